/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/select_main.c - nbjail-select OVERLAY -- COMMAND [ARG...]
 *
 * Inside an nbjail job: run COMMAND, and everything it starts, through
 * overlay OVERLAY of the job's policy (nbj_select_overlay()), then exec.
 * Exit status: COMMAND's; 2 bad usage; 125 the selection was refused
 * (the reason is printed); 126/127 COMMAND cannot be run / not found.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nbjail/nbjail.h"

static int usage(void)
{
	fprintf(stderr, "Usage: nbjail-select OVERLAY -- COMMAND [ARG...]\n"
			"Run COMMAND, and what it starts, through OVERLAY of the job's\n"
			"policy (needs permissions: {network.select: allow}). See nbjail(1).\n");
	return 2;
}

int main(int argc, char *argv[])
{
	const char *why;
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage();
		return 0;
	}
	if (argc < 4 || strcmp(argv[2], "--") || argv[1][0] == '-')
		return usage();
	err = nbj_select_overlay(argv[1]);
	switch (err) {
	case 0:
		execvp(argv[3], argv + 3);
		fprintf(stderr, "nbjail-select: %s: %s\n", argv[3], strerror(errno));
		return errno == ENOENT ? 127 : 126;
	case -EACCES:
		why = "the job's policy does not grant network.select";
		break;
	case -ENOENT:
		why = "the job's policy defines no such overlay";
		break;
	case -EOPNOTSUPP:
		why = "this job cannot select (no cgroup v2 on the host, or none "
		      "delegated to a caller without root: see nbjail's warning "
		      "when the job started)";
		break;
	case -ECONNREFUSED:
		why = "not inside an nbjail job";
		break;
	default:
		why = strerror(-err);
	}
	fprintf(stderr, "nbjail-select: %s: %s\n", argv[1], why);
	return 125;
}
