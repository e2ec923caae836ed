/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/unshare_user.c - unshare a user namespace (regain capabilities) */
#include "escape.h"
#include <sched.h>
int main(void) { return expect_errno("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM, EPERM); }
