/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/nested_listener.c - install a seccomp filter with a listener of
 * our own, to answer our own connect() calls before the supervisor does */
#include "escape.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF) };
	struct sock_fprog p = { 1, f };

	return expect_errno("seccomp(SET_MODE_FILTER, NEW_LISTENER)",
			    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				    SECCOMP_FILTER_FLAG_NEW_LISTENER, &p), EPERM, EPERM);
}
