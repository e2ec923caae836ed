/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/unshare_net.c - unshare a new network namespace */
#include "escape.h"
#include <sched.h>
int main(void) { return expect_errno("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), EPERM, EPERM); }
