/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-unix.c - seccomp/unix.c: audit-safe text, resolving a
 * path as a process would (root, cwd, no escape above the cwd, no magic
 * links) and the Landlock ruleset for socket files */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "seccomp/unix.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-unix-XXXXXX");
	if (!mkdtemp(dir) || chdir(dir) < 0)
		return -1;
	if (close(open("a", O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0 ||
	    mkdir("d", 0700) < 0 || symlink("..", "up") < 0 || symlink("/etc", "abs") < 0 ||
	    symlink("a", "rel") < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[96];

	(void)state;
	if (chdir("/") < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	unix_escape("/run/a b\nx\\y", 12, out, sizeof(out));
	assert_string_equal(out, "/run/a\\x20b\\x0ax\\y");
	/* a NUL is escaped too (abstract names hold them); it stops at the
	 * room it has, never mid-escape */
	unix_escape("ab\0cd", 5, out, sizeof(out));
	assert_string_equal(out, "ab\\x00cd");
	unix_escape("\x01\x02\x03", 3, out, 9);
	assert_string_equal(out, "\\x01\\x02");
}

static void test_resolve(void **state)
{
	struct stat st, a;
	char abs[128];

	(void)state;
	assert_int_equal(stat("a", &a), 0);
	/* relative: beneath the cwd; symlinks inside it are followed */
	assert_int_equal(unix_resolve_in_job(getpid(), "a", 0, &st), 0);
	assert_true(st.st_ino == a.st_ino && st.st_dev == a.st_dev);
	assert_int_equal(unix_resolve_in_job(getpid(), "rel", 0, &st), 0);
	assert_true(st.st_ino == a.st_ino);
	assert_int_equal(unix_resolve_in_job(getpid(), "d", O_DIRECTORY, &st), 0);
	/* what the kernel would answer, or refused */
	assert_int_equal(unix_resolve_in_job(getpid(), "a", O_DIRECTORY, &st), -ENOTDIR);
	assert_int_equal(unix_resolve_in_job(getpid(), "missing", 0, &st), -ENOENT);
	assert_int_equal(unix_resolve_in_job(getpid(), "../etc", 0, &st), -EXDEV);
	assert_int_equal(unix_resolve_in_job(getpid(), "up/etc", 0, &st), -EXDEV);
	assert_int_equal(unix_resolve_in_job(getpid(), "abs", 0, &st), -EXDEV);
	/* absolute: in the process's root; /proc magic links refused */
	snprintf(abs, sizeof(abs), "%s/a", dir);
	assert_int_equal(unix_resolve_in_job(getpid(), abs, 0, &st), 0);
	assert_true(st.st_ino == a.st_ino);
	assert_int_equal(unix_resolve_in_job(getpid(), "/proc/self/root/etc", 0, &st), -ELOOP);
	assert_int_equal(unix_resolve_in_job(getpid(), "/proc/self/cwd/a", 0, &st), -ELOOP);
	/* a process that does not exist */
	assert_int_equal(unix_resolve_in_job(0x3fffffff, "/etc", 0, &st), -ENOENT);
}

/* In a child: after the ruleset, socket files only beneath the private
 * directories; other files as before */
static void test_landlock(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int err;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(10);
		err = unix_landlock_apply();
		if (err == -EOPNOTSUPP)
			_exit(77);
		if (err < 0)
			_exit(11);
		if (mknod("s.sock", S_IFSOCK | 0600, 0) == 0 || errno != EACCES)
			_exit(12);
		if (close(open("f", O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0)
			_exit(13);
		if (access("/dev/shm", W_OK) == 0) {
			char p[64];

			snprintf(p, sizeof(p), "/dev/shm/test-unix-%d.sock", getpid());
			if (mknod(p, S_IFSOCK | 0600, 0) < 0)
				_exit(14);
			(void)unlink(p);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_landlock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
