/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/doctor.h - `nbjail doctor`: what this host gives the caller
 */
#ifndef NBJ_SUPERVISOR_DOCTOR_H
#define NBJ_SUPERVISOR_DOCTOR_H

int doctor_main(int argc, char **argv);

#endif /* NBJ_SUPERVISOR_DOCTOR_H */
