/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/escape.h - shared by the red-team programs
 *
 * Each program attempts one escape from inside a net job and exits 0 if
 * the attempt failed the way nbjail promises (the expected errno), 1 if
 * it got through or failed differently; it prints one line saying which.
 * Programs that a foreign-architecture rule must kill expect to die of
 * SIGSYS instead (the test runner checks the signal).
 */
#ifndef NBJ_ESCAPE_H
#define NBJ_ESCAPE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int expect_errno(const char *what, long ret, int err1, int err2)
{
	int e = errno;

	if (ret >= 0) {
		printf("ESCAPED: %s succeeded (returned %ld)\n", what, ret);
		return 1;
	}
	if (e != err1 && e != err2) {
		printf("UNEXPECTED: %s failed with %s, wanted %s\n", what, strerror(e),
		       strerror(err1));
		return 1;
	}
	printf("held: %s -> %s\n", what, strerror(e));
	return 0;
}

#endif
