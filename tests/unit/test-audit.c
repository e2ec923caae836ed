/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-audit.c - audit_send_many(): events sent together stay
 * one record each, in order; those the socket has no room for are dropped
 * and counted, never blocked on
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/audit.h"

static void events(struct audit_event *ev, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		audit_event_init(&ev[i], AUDIT_INBOUND, LANE_INBOUND);
		snprintf(ev[i].target, sizeof(ev[i].target), "GET /%u", i);
	}
}

static void test_records_in_order(void **state)
{
	static struct audit_event ev[5], got;
	struct job_stats *stats = calloc(1, sizeof(*stats));
	struct audit_ctx a = { .stats = stats };
	int sv[2];

	(void)state;
	assert_non_null(stats);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	a.fd = sv[0];
	events(ev, 5);
	assert_int_equal(audit_send_many(&a, ev, 5), 5);
	for (unsigned i = 0; i < 5; i++) {
		char want[32];

		/* a buffer larger than a record: each message is exactly one */
		assert_int_equal(recv(sv[1], &got, sizeof(got), MSG_DONTWAIT), sizeof(got));
		snprintf(want, sizeof(want), "GET /%u", i);
		assert_string_equal(got.target, want);
	}
	assert_int_equal(recv(sv[1], &got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(atomic_load(&stats->events_sent), 5);
	assert_int_equal(atomic_load(&stats->events_dropped), 0);
	assert_int_equal(audit_send_many(&a, ev, 0), 0);
	close(sv[0]);
	close(sv[1]);
	free(stats);
}

static void test_full_socket_drops_and_counts(void **state)
{
	static struct audit_event ev[AUDIT_SEND_MANY_MAX], got;
	struct job_stats *stats = calloc(1, sizeof(*stats));
	struct audit_ctx a = { .stats = stats };
	int small = 4096, sv[2];
	unsigned sent, n = 0;

	(void)state;
	assert_non_null(stats);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	a.fd = sv[0];
	events(ev, AUDIT_SEND_MANY_MAX);
	sent = audit_send_many(&a, ev, AUDIT_SEND_MANY_MAX);	/* must not block */
	assert_true(sent >= 1);
	assert_true(sent < AUDIT_SEND_MANY_MAX);
	assert_int_equal(atomic_load(&stats->events_sent), sent);
	assert_int_equal(atomic_load(&stats->events_dropped), AUDIT_SEND_MANY_MAX - sent);
	while (recv(sv[1], &got, sizeof(got), MSG_DONTWAIT) == sizeof(got))
		assert_int_equal(strncmp(got.target, ev[n++].target, sizeof(got.target)), 0);
	assert_int_equal(n, sent);
	close(sv[0]);
	close(sv[1]);
	free(stats);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_in_order),
		cmocka_unit_test(test_full_socket_drops_and_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
