/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/hook.h - `nbjail oci-hook`, the OCI runtime hook (oci/hook.c)
 */
#ifndef NBJ_OCI_HOOK_H
#define NBJ_OCI_HOOK_H

int oci_hook_main(int argc, char **argv);

#endif /* NBJ_OCI_HOOK_H */
