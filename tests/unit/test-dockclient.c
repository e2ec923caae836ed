/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-dockclient.c - the C client of the dock (dock/client.c)
 * against a fake dock: a unix socket in a temporary directory, named by
 * NBJAIL_DOCK, served by a forked child that checks the request frame
 * and answers with scripted records
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nbjail/dock.h"

static char dir[] = "/tmp/nbjt-dockclient.XXXXXX";
static char path[sizeof(dir) + 16];

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void record(int fd, uint8_t type, uint8_t flags, const void *data, size_t len)
{
	unsigned char h[8] = { type, flags, 0, 0 };

	put32(h + 4, (uint32_t)len);
	if (write(fd, h, 8) != 8 || (len && write(fd, data, len) != (ssize_t)len))
		_exit(90);
}

static void end(int fd, int status, const char *reason, uint8_t flags)
{
	unsigned char b[4 + 64];
	size_t n = strlen(reason);

	put32(b, (uint32_t)status);
	memcpy(b + 4, reason, n);
	record(fd, NBJ_DOCK_REC_END, flags, b, 4 + n);
}

/* One connection: the frame must be tcp 198.51.100.10:80 "PING"; then
 * the scripted answer @script */
static pid_t serve(int script)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	strcpy(sa.sun_path, path);
	unlink(path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char h[NBJ_DOCK_HEADER_SIZE + 13 + 4];
		struct nbj_dock_request r;
		int c = accept(l, NULL, NULL);
		size_t got = 0;

		while (got < sizeof(h)) {
			ssize_t n = read(c, h + got, sizeof(h) - got);

			if (n <= 0)
				_exit(91);
			got += (size_t)n;
		}
		if (nbj_dock_header_decode(h, sizeof(h), &r) < 0 || r.op != NBJ_DOCK_OP_TCP ||
		    r.port != 80 || r.target_len != 13 || r.body_len != 4 ||
		    memcmp(h + 16, "198.51.100.10PING", 17))
			_exit(92);
		switch (script) {
		case 0:
			record(c, NBJ_DOCK_REC_DATA, 0, "PO", 2);
			record(c, NBJ_DOCK_REC_DATA, 0, "NG", 2);
			end(c, 0, "", 0);
			break;
		case 1:
			end(c, -EACCES, "floor:metadata", 0);
			break;
		case 2:
			record(c, NBJ_DOCK_REC_DATA, 0, "0123456789", 10);
			end(c, 0, "the answer is over the 1 MiB cap", NBJ_DOCK_TRUNCATED);
			break;
		case 3:
			record(c, NBJ_DOCK_REC_DATA, 0, "PONG", 4);
			break;	/* no END: the connection just ends */
		case 4:
			record(c, 7, 0, "", 0);	/* an unknown record */
			break;
		}
		close(c);
		_exit(0);
	}
	close(l);
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static ssize_t call(int script, size_t cap, char *out)
{
	pid_t pid = serve(script);
	ssize_t n = nbj_dock_tcp("198.51.100.10", 80, "PING", 4, out, cap);

	reap(pid);
	return n;
}

static void test_answers(void **state)
{
	char out[64] = "";
	struct nbj_dock_answer a;
	pid_t pid;

	(void)state;
	assert_int_equal(call(0, sizeof(out), out), 4);
	assert_memory_equal(out, "PONG", 4);
	assert_int_equal(call(0, 3, out), -EMSGSIZE);	/* cut by the caller's cap */
	assert_memory_equal(out, "PON", 3);
	assert_int_equal(call(1, sizeof(out), out), -EACCES);
	assert_int_equal(call(2, sizeof(out), out), -EMSGSIZE);	/* cut by the relay's */
	assert_memory_equal(out, "0123456789", 10);
	assert_int_equal(call(3, sizeof(out), out), -EPIPE);
	assert_int_equal(call(4, sizeof(out), out), -EPROTO);

	pid = serve(1);
	assert_int_equal(nbj_dock_call(NBJ_DOCK_OP_TCP, "198.51.100.10", 80, "PING", 4, NULL,
				       NULL, &a), 0);
	reap(pid);
	assert_int_equal(a.status, -EACCES);
	assert_string_equal(a.reason, "floor:metadata");
	assert_false(a.truncated);
}

/* One sign call: the frame must be sign "deploy" with body "data"; the
 * answer @mac_len bytes of MAC */
static pid_t serve_sign(size_t mac_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	strcpy(sa.sun_path, path);
	unlink(path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char h[NBJ_DOCK_HEADER_SIZE + 6 + 4], mac[40];
		struct nbj_dock_request r;
		int c = accept(l, NULL, NULL);
		size_t got = 0;

		while (got < sizeof(h)) {
			ssize_t n = read(c, h + got, sizeof(h) - got);

			if (n <= 0)
				_exit(91);
			got += (size_t)n;
		}
		if (nbj_dock_header_decode(h, sizeof(h), &r) < 0 || r.op != NBJ_DOCK_OP_SIGN ||
		    r.port != 0 || r.target_len != 6 || r.body_len != 4 ||
		    memcmp(h + 16, "deploydata", 10))
			_exit(92);
		for (size_t k = 0; k < sizeof(mac); k++)
			mac[k] = (unsigned char)k;
		record(c, NBJ_DOCK_REC_DATA, 0, mac, mac_len);
		end(c, 0, "", 0);
		close(c);
		_exit(0);
	}
	close(l);
	return pid;
}

static void test_sign(void **state)
{
	unsigned char mac[NBJ_DOCK_MAC_LEN];
	pid_t pid;

	(void)state;
	pid = serve_sign(NBJ_DOCK_MAC_LEN);
	assert_int_equal(nbj_dock_sign("deploy", "data", 4, mac), 0);
	reap(pid);
	for (unsigned k = 0; k < NBJ_DOCK_MAC_LEN; k++)
		assert_int_equal(mac[k], k);
	pid = serve_sign(31);	/* not a MAC */
	assert_int_equal(nbj_dock_sign("deploy", "data", 4, mac), -EPROTO);
	reap(pid);
}

static void test_bounds_before_connecting(void **state)
{
	char big[NBJ_DOCK_HOST_MAX + 2];
	char out[4];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(nbj_dock_tcp(big, 80, "", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(nbj_dock_tcp("", 80, "", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(nbj_dock_udp("198.51.100.10", 53, out, NBJ_DOCK_UDP_MAX + 1, out,
				      sizeof(out)), -EMSGSIZE);
	unlink(path);	/* no dock at all */
	assert_int_equal(nbj_dock_tcp("198.51.100.10", 80, "", 0, out, sizeof(out)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_bounds_before_connecting),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/dock.sock", dir);
	setenv(NBJ_DOCK_ENV, path, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
