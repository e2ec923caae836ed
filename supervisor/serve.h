/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/serve.h - `nbjail serve` (supervisor/serve.c)
 */
#ifndef NBJ_SUPERVISOR_SERVE_H
#define NBJ_SUPERVISOR_SERVE_H

int serve_main(int argc, char **argv);

#endif /* NBJ_SUPERVISOR_SERVE_H */
