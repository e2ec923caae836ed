/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/perf_event.c - perf_event_open */
#include "escape.h"
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	struct perf_event_attr a = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(a), .config = PERF_COUNT_SW_CPU_CLOCK };
	return expect_errno("perf_event_open", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0), EPERM, EPERM);
}
