/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for common/roles.c, common/rolefilter.c and relay/handoff.c:
 * the role table's invariants, the allow-lists kill what they do not
 * list (in a child), and the relay's handoff survives the trip exactly
 * and refuses what is not a sealed handoff of this build.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bpfcache.h"
#include "common/roles.h"
#include "relay/relay.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static void table_is_consistent(void **state)
{
	(void)state;
	for (int r = 0; r < ROLE_COUNT; r++) {
		const struct proc_role_info *i = &proc_roles[r];

		assert_non_null(i->name);
		assert_non_null(i->fds);
		assert_non_null(i->why);
		assert_true((unsigned)i->parent < ROLE_COUNT);
		/* every role but the supervisor descends from it */
		if (r != ROLE_SUPERVISOR) {
			int p = r, steps = 0;

			while (p != ROLE_SUPERVISOR && steps++ < ROLE_COUNT)
				p = proc_roles[p].parent;
			assert_int_equal(p, ROLE_SUPERVISOR);
		}
	}
	/* the two helpers that see untrusted bytes on the host side run as
	 * ids of their own, each another, each under an allow-list */
	assert_int_equal(proc_roles[ROLE_RELAY].user, ROLE_USER_JOB_RELAY);
	assert_int_equal(proc_roles[ROLE_AUDIT_WRITER].user, ROLE_USER_JOB_AUDIT);
	assert_int_equal(proc_roles[ROLE_RELAY].filter, ROLE_FILTER_RELAY);
	assert_int_equal(proc_roles[ROLE_AUDIT_WRITER].filter, ROLE_FILTER_AUDIT_WRITER);
	assert_int_equal(proc_roles[ROLE_WORKLOAD].filter, ROLE_FILTER_JOB);
	assert_string_equal(proc_roles[ROLE_RELAY].program, "nbjail-relay");
	assert_string_equal(role_name(ROLE_COUNT), "?");
	assert_int_equal(role_filter_apply(ROLE_WORKLOAD), -EINVAL);
}

enum probe {
	PROBE_ALLOWED,		/* what the relay does all day */
	PROBE_FORK,
	PROBE_EXECVE,
	PROBE_PTRACE,
	PROBE_KILL,
	PROBE_UNIX_SOCKET,
	PROBE_OPEN_WRITE,
	PROBE_MOUNT_NS,
	PROBE_TIOCSTI,
};

/* In a child: install @role's list, run @probe; the child's end says
 * whether the filter let it live */
static int run_probe(enum proc_role role, enum probe probe)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		char c = 'x';
		int fd;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || role_filter_apply(role) < 0)
			_exit(3);
		switch (probe) {
		case PROBE_ALLOWED:
			fd = socket(role == ROLE_RELAY ? AF_INET6 : AF_UNIX, SOCK_STREAM, 0);
			if (fd < 0)
				_exit(4);
			close(fd);
			fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			(void)getpid();
			_exit(0);
		case PROBE_FORK:
			(void)syscall(SYS_fork);
			break;
		case PROBE_EXECVE:
			(void)syscall(SYS_execve, "/bin/true", NULL, NULL);
			break;
		case PROBE_PTRACE:
			(void)syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
			break;
		case PROBE_KILL:
			(void)syscall(SYS_kill, 1, 0);
			break;
		case PROBE_UNIX_SOCKET:
			(void)syscall(SYS_socket, role == ROLE_RELAY ? AF_UNIX : AF_INET,
				      SOCK_STREAM, 0);
			break;
		case PROBE_OPEN_WRITE:
			(void)syscall(SYS_openat, AT_FDCWD, "/tmp/nbjail-test-roles",
				      O_WRONLY | O_CREAT, 0600);
			break;
		case PROBE_MOUNT_NS:
			(void)syscall(SYS_unshare, 0x00020000 /* CLONE_NEWNS */);
			break;
		case PROBE_TIOCSTI:
			(void)syscall(SYS_ioctl, 0, 0x5412 /* TIOCSTI */, &c);
			break;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void allow_lists_kill_the_rest(void **state)
{
	static const enum probe denied[] = {
		PROBE_FORK, PROBE_EXECVE, PROBE_PTRACE, PROBE_KILL, PROBE_UNIX_SOCKET,
		PROBE_OPEN_WRITE, PROBE_MOUNT_NS, PROBE_TIOCSTI,
	};
	static const enum proc_role roles[] = { ROLE_RELAY, ROLE_AUDIT_WRITER };

	(void)state;
	for (size_t r = 0; r < 2; r++) {
		/* under ASan its runtime makes calls of its own (the lists
		 * are for the production build): only the denials are checked */
		if (!SANITIZED)
			assert_int_equal(run_probe(roles[r], PROBE_ALLOWED), 0);
		for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
			int got = run_probe(roles[r], denied[i]);

			if (got != -SIGSYS)
				fail_msg("role %s, probe %zu: expected SIGSYS, got %d",
					 role_name(roles[r]), i, got);
		}
	}
}

static const struct allow_rule allow[2] = {
	{ .kind = ALLOW_NAME, .name = "example.test", .addr = { .port = 443 } },
	{ .kind = ALLOW_SUFFIX, .name = ".world.test" },
};

static struct overlay overlays[2] = {
	{ .name = "direct", .kind = OVERLAY_DIRECT },
	{ .name = "proxy", .kind = OVERLAY_SOCKS5, .password = "s3cret" },
};

static const struct publish_entry publish[1] = { { .overlay = 0, .port = 8080, .to = 80 } };

#define SAMPLE_ROOTS "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static int write_sample(void)
{
	static const struct nbj_prefix nets[2] = {
		{ .addr = { .family = AF_INET }, .prefixlen = 30 },
		{ .addr = { .family = AF_INET6 }, .prefixlen = 64 },
	};
	const struct nbj_policy p = {
		.allow = allow, .n_allow = 2, .overlays = overlays, .n_overlays = 2,
		.default_overlay = 1, .publish = publish, .n_publish = 1,
	};
	int pub[1] = { 42 };
	struct relay_config cfg = {
		.job_id = "abcd1234", .tcp_fds = { 10, 11 }, .dns_fds = { 12, -1 },
		.socket_factory = 13, .policy = &p, .job_nets = nets, .n_job_nets = 2,
		.max_flows = 99, .audit = { .fd = 14 }, .publish_fds = pub,
		.select_ports = true, .keyholder_fd = 17,
		.tls_roots = (const unsigned char *)SAMPLE_ROOTS,
		.tls_roots_len = sizeof(SAMPLE_ROOTS) - 1,
	};

	return relay_handoff_write(&cfg, 15, 16);
}

static void handoff_round_trip(void **state)
{
	struct relay_handoff_storage st;
	struct relay_config cfg;
	int fd = write_sample(), stats_fd, tenant_fd;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(relay_handoff_read(fd, &cfg, &st, &stats_fd, &tenant_fd), 0);
	assert_string_equal(cfg.job_id, "abcd1234");
	assert_int_equal(cfg.tcp_fds[1], 11);
	assert_int_equal(cfg.dns_fds[1], -1);
	assert_int_equal(cfg.socket_factory, 13);
	assert_int_equal(cfg.audit.fd, 14);
	assert_int_equal(stats_fd, 15);
	assert_int_equal(tenant_fd, 16);
	assert_int_equal(cfg.max_flows, 99);
	assert_true(cfg.select_ports);
	assert_int_equal(cfg.n_job_nets, 2);
	assert_int_equal(cfg.job_nets[1].prefixlen, 64);
	assert_int_equal(cfg.policy->n_allow, 2);
	assert_string_equal(cfg.policy->allow[1].name, ".world.test");
	assert_int_equal(cfg.policy->n_overlays, 2);
	assert_int_equal(cfg.policy->default_overlay, 1);
	assert_string_equal(cfg.policy->overlays[1].password, "s3cret");
	assert_int_equal(cfg.policy->n_publish, 1);
	assert_int_equal(cfg.policy->publish[0].to, 80);
	assert_int_equal(cfg.publish_fds[0], 42);
	assert_int_equal(cfg.publish_fds[1], -1);
	assert_int_equal(cfg.keyholder_fd, 17);
	assert_int_equal(cfg.tls_roots_len, sizeof(SAMPLE_ROOTS) - 1);
	assert_memory_equal(cfg.tls_roots, SAMPLE_ROOTS, sizeof(SAMPLE_ROOTS) - 1);
	relay_handoff_free(&st);
	close(fd);
}

static void handoff_refuses_unsealed_and_short(void **state)
{
	struct relay_handoff_storage st;
	struct relay_config cfg;
	int good = write_sample(), bad, a, b;
	char buf[8192];
	ssize_t n;

	(void)state;
	assert_true(good >= 0);
	n = pread(good, buf, sizeof(buf), 0);
	assert_true(n > 64);
	/* the same bytes, not sealed: refused */
	bad = memfd_create("t", MFD_ALLOW_SEALING);
	assert_int_equal(write(bad, buf, (size_t)n), n);
	assert_int_equal(relay_handoff_read(bad, &cfg, &st, &a, &b), -EBADMSG);
	close(bad);
	/* sealed but one byte short: refused */
	bad = memfd_create("t", MFD_ALLOW_SEALING);
	assert_int_equal(write(bad, buf, (size_t)n - 1), n - 1);
	assert_int_equal(fcntl(bad, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK |
			       F_SEAL_GROW | F_SEAL_WRITE), 0);
	assert_int_equal(relay_handoff_read(bad, &cfg, &st, &a, &b), -EBADMSG);
	close(bad);
	/* another build's record sizes: refused */
	buf[8] ^= 1;
	bad = memfd_create("t", MFD_ALLOW_SEALING);
	assert_int_equal(write(bad, buf, (size_t)n), n);
	assert_int_equal(fcntl(bad, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK |
			       F_SEAL_GROW | F_SEAL_WRITE), 0);
	assert_int_equal(relay_handoff_read(bad, &cfg, &st, &a, &b), -EBADMSG);
	close(bad);
	close(good);
}

/* The relay's compiled allow-list travels in a sealed memfd: read back
 * whole, and refused unsealed, empty or of a partial instruction */
static void bpf_memfd_round_trip(void **state)
{
	struct sock_filter insns[3] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, 0x7fff0000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 3, .filter = insns }, back = { 0 };
	int fd = bpf_memfd_create(&prog), raw;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(bpf_memfd_read(fd, &back), 0);
	assert_int_equal(back.len, 3);
	assert_memory_equal(back.filter, insns, sizeof(insns));
	free(back.filter);
	close(fd);

	raw = memfd_create("unsealed", MFD_ALLOW_SEALING);
	assert_true(raw >= 0);
	assert_int_equal(write(raw, insns, sizeof(insns)), (ssize_t)sizeof(insns));
	assert_int_equal(bpf_memfd_read(raw, &back), -EINVAL);	/* not sealed */
	assert_int_equal(ftruncate(raw, sizeof(insns) - 1), 0);
	assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_WRITE), 0);
	assert_int_equal(bpf_memfd_read(raw, &back), -EINVAL);	/* partial */
	close(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_is_consistent),
		cmocka_unit_test(allow_lists_kill_the_rest),
		cmocka_unit_test(handoff_round_trip),
		cmocka_unit_test(handoff_refuses_unsealed_and_short),
		cmocka_unit_test(bpf_memfd_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
