/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for keys/ (nbjail-keys, its handoff, keyholder_sign()) and
 * the `secrets:` section of policy/load.c: RFC 4231's HMAC-SHA256 vectors
 * through the real nbjail-keys process started here, unknown keys,
 * malformed requests, a 1 MiB request, the holder's exit (EOF, SIGTERM),
 * its syscall filter (Seccomp 2; open() kills), and the handoff wiped
 * after reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nbjail/nbjail.h"
#include "common/roles.h"
#include "keys/keys.h"
#include "policy/load.h"

/* RFC 4231, test cases 1-4, 6 and 7 (5 is a truncated output) */
static const struct vector {
	const char *name;
	unsigned char key[131];
	size_t key_len;
	unsigned char data[160];
	size_t data_len;
	const char *mac_hex;
} vectors[] = {
	{ "tc1", { [0 ... 19] = 0x0b }, 20, "Hi There", 8,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "tc2", "Jefe", 4, "what do ya want for nothing?", 28,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "tc3", { [0 ... 19] = 0xaa }, 20, { [0 ... 49] = 0xdd }, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "tc4", { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		   21, 22, 23, 24, 25 }, 25, { [0 ... 49] = 0xcd }, 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "tc6", { [0 ... 130] = 0xaa }, 131,
	  "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "tc7", { [0 ... 130] = 0xaa }, 131,
	  "This is a test using a larger than block-size key and a larger than "
	  "block-size data. The key needs to be hashed before being used by the "
	  "HMAC algorithm.", 152,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/**
 * struct holder - a real nbjail-keys started by the test
 */
struct holder {
	pid_t pid;
	int fd;
};

static int handoff_with_vectors(void)
{
	int fd = keys_handoff_begin(getpid());

	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		assert_int_equal(keys_handoff_add(fd, vectors[i].name, vectors[i].key,
						  vectors[i].key_len), 0);
	assert_int_equal(keys_handoff_seal(fd), 0);
	return fd;
}

/* fork + exec nbjail-keys HANDOFF SOCKET, wait for its start report */
static int holder_start(int handoff, struct holder *h)
{
	int sv[2];
	struct keys_reply_msg r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		char a[16], b[16];

		fcntl(handoff, F_SETFD, 0);
		fcntl(sv[1], F_SETFD, 0);
		snprintf(a, sizeof(a), "%d", handoff);
		snprintf(b, sizeof(b), "%d", sv[1]);
		execl(NBJ_KEYS_TEST_PROGRAM, "nbjail-keys", a, b, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	close(handoff);
	h->fd = sv[0];
	if (recv(h->fd, &r, sizeof(r), 0) != sizeof(r))
		return -ECHILD;
	assert_int_equal(r.hdr.magic, KEYS_MAGIC);
	assert_int_equal(r.hdr.id, 0);
	return r.status;
}

static int holder_stop(struct holder *h)
{
	int status;

	close(h->fd);
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	return status;
}

static void rfc4231_vectors(void **state)
{
	struct holder h;

	(void)state;
	assert_int_equal(holder_start(handoff_with_vectors(), &h), 0);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		unsigned char mac[KEYS_MAC_LEN];
		char got[2 * KEYS_MAC_LEN + 1];

		assert_int_equal(keyholder_sign(h.fd, vectors[i].name, vectors[i].data,
						vectors[i].data_len, mac), 0);
		hex(mac, sizeof(mac), got);
		assert_string_equal(got, vectors[i].mac_hex);
	}
	/* the holder reads EOF, zeroes its keys and exits 0 */
	assert_int_equal(holder_stop(&h), 0);
}

static void unknown_and_bad(void **state)
{
	unsigned char mac[KEYS_MAC_LEN] = { 0 }, zero[KEYS_MAC_LEN] = { 0 };
	char name64[65];
	struct holder h;

	(void)state;
	assert_int_equal(holder_start(handoff_with_vectors(), &h), 0);
	assert_int_equal(keyholder_sign(h.fd, "nope", "x", 1, mac), -ENOKEY);
	assert_int_equal(keyholder_sign(h.fd, "tc", "x", 1, mac), -ENOKEY); /* a prefix */
	assert_int_equal(keyholder_sign(h.fd, "tc10", "", 0, mac), -ENOKEY);
	assert_memory_equal(mac, zero, sizeof(mac)); /* untouched on failure */
	assert_int_equal(keyholder_sign(h.fd, "", "x", 1, mac), -EINVAL);
	assert_int_equal(keyholder_sign(h.fd, "a/b", "x", 1, mac), -EINVAL);
	memset(name64, 'a', 64);
	name64[64] = '\0';
	assert_int_equal(keyholder_sign(h.fd, name64, "x", 1, mac), -ENOKEY);
	assert_int_equal(keyholder_sign(h.fd, "tc1", "x", KEYS_DATA_MAX + 1, mac), -EINVAL);
	/* still serving after all that */
	assert_int_equal(keyholder_sign(h.fd, "tc2", "x", 1, mac), 0);
	assert_int_equal(holder_stop(&h), 0);
}

/* Requests that keyholder_sign() never makes, sent by hand */
static void malformed_requests(void **state)
{
	struct keys_sign_msg sign = { .hdr = { .magic = KEYS_MAGIC, .type = KEYS_MSG_SIGN,
					       .id = 7, .len = 4 } };
	struct keys_msg_hdr data = { .magic = KEYS_MAGIC, .type = KEYS_MSG_DATA, .id = 7,
				     .len = 8 };
	unsigned char buf[sizeof(data) + 8] = { 0 }, mac[KEYS_MAC_LEN];
	struct keys_reply_msg r;
	struct holder h;

	(void)state;
	assert_int_equal(holder_start(handoff_with_vectors(), &h), 0);
	/* wrong magic; unknown type; a short message */
	send(h.fd, "\0\0\0\0\1\0\0\0\7\0\0\0\0\0\0\0", 16, 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	sign.hdr.type = 9;
	send(h.fd, &sign, sizeof(sign), 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	send(h.fd, "x", 1, 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	/* a name without its NUL padding; a chunk longer than announced */
	sign.hdr.type = KEYS_MSG_SIGN;
	memcpy(sign.name, "tc1\0x", 5);
	send(h.fd, &sign, sizeof(sign), 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	memset(sign.name, 0, sizeof(sign.name));
	memcpy(sign.name, "tc1", 3);
	send(h.fd, &sign, sizeof(sign), 0);
	memcpy(buf, &data, sizeof(data));
	send(h.fd, buf, sizeof(buf), 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.hdr.id, 7);
	assert_int_equal(r.status, -EINVAL);
	/* more than 1 MiB announced */
	sign.hdr.len = KEYS_DATA_MAX + 1;
	send(h.fd, &sign, sizeof(sign), 0);
	assert_int_equal(recv(h.fd, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	/* a request left half-way is dropped by the next one */
	sign.hdr.len = 100;
	send(h.fd, &sign, sizeof(sign), 0);
	assert_int_equal(keyholder_sign(h.fd, "tc2", "what do ya want for nothing?", 28, mac), 0);
	assert_int_equal(mac[0], 0x5b);
	assert_int_equal(holder_stop(&h), 0);
}

static void one_mib(void **state)
{
	unsigned char mac[KEYS_MAC_LEN], want[KEYS_MAC_LEN];
	unsigned int want_len = 0;
	unsigned char *data = malloc(KEYS_DATA_MAX);
	struct holder h;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < KEYS_DATA_MAX; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	assert_int_equal(holder_start(handoff_with_vectors(), &h), 0);
	assert_int_equal(keyholder_sign(h.fd, "tc6", data, KEYS_DATA_MAX, mac), 0);
	assert_non_null(HMAC(EVP_sha256(), vectors[4].key, (int)vectors[4].key_len, data,
			     KEYS_DATA_MAX, want, &want_len));
	assert_int_equal(want_len, KEYS_MAC_LEN);
	assert_memory_equal(mac, want, KEYS_MAC_LEN);
	free(data);
	assert_int_equal(holder_stop(&h), 0);
}

static void status_of_holder(void **state)
{
	char path[64], line[256];
	bool seccomp = false;
	struct holder h;
	FILE *f;
	int status;

	(void)state;
	assert_int_equal(holder_start(handoff_with_vectors(), &h), 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)h.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			seccomp = strtol(line + 8, NULL, 10) == 2;
	fclose(f);
	assert_true(seccomp);
	/* not dumpable: the kernel makes root the owner of its /proc/PID
	 * (seen only when the test is not root itself) */
	if (getuid() != 0) {
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d", (int)h.pid);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, 0);
	}
	/* SIGTERM: keys zeroed, exit 0 */
	assert_int_equal(kill(h.pid, SIGTERM), 0);
	assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(h.fd);
}

static void filter_kills_open(void **state)
{
	int sv[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c = 'x';

		alarm(5);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    role_filter_apply_keyholder(sv[1]) < 0)
			_exit(3);
		/* its own socket works, memory too */
		if (send(sv[1], &c, 1, 0) != 1 || !malloc(1 << 20))
			_exit(4);
		(void)syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);

	/* another socket than its own: killed too */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c = 'x';

		alarm(5);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    role_filter_apply_keyholder(sv[1]) < 0)
			_exit(3);
		(void)send(sv[0], &c, 1, 0);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	/* PROT_EXEC memory: killed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(5);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    role_filter_apply_keyholder(sv[1]) < 0)
			_exit(3);
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(role_filter_apply(ROLE_KEYHOLDER), -EINVAL);
	assert_int_equal(proc_roles[ROLE_KEYHOLDER].user, ROLE_USER_JOB_KEYS);
	assert_int_equal(proc_roles[ROLE_KEYHOLDER].filter, ROLE_FILTER_KEYHOLDER);
	assert_string_equal(proc_roles[ROLE_KEYHOLDER].program, "nbjail-keys");
}

static void handoff_wiped_and_checked(void **state)
{
	struct keys_store s;
	unsigned char key[32], page[4096];
	int fd, dup_fd;

	(void)state;
	memset(key, 0x5a, sizeof(key));
	fd = keys_handoff_begin(getpid());
	assert_int_equal(keys_handoff_add(fd, "k1", key, sizeof(key)), 0);
	assert_int_equal(keys_handoff_add(fd, "k 2", key, 1), -EINVAL);
	assert_int_equal(keys_handoff_add(fd, "k2", key, 0), -EINVAL);
	assert_int_equal(keys_handoff_add(fd, "k2", key, SECRET_BYTES_MAX + 1), -EINVAL);
	/* not sealed: refused */
	assert_int_equal(keys_store_read(fd, &s), -EBADMSG);
	assert_int_equal(keys_handoff_seal(fd), 0);
	dup_fd = dup(fd);
	assert_int_equal(keys_store_read(fd, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.name[0], "k1");
	assert_int_equal(s.len[0], 32);
	assert_memory_equal(s.arena + s.off[0], key, sizeof(key));
	assert_int_equal(s.parent, getpid());
	assert_int_equal(keys_store_find(&s, "k1", 2), 0);
	assert_int_equal(keys_store_find(&s, "k", 1), -ENOKEY);
	/* the memfd holds zeros now */
	memset(page, 0xff, sizeof(page));
	assert_true(pread(dup_fd, page, sizeof(page), 0) > 0);
	for (size_t i = 0; i < sizeof(page) && i < 100; i++)
		assert_int_equal(page[i], 0);
	keys_store_wipe(&s);
	assert_null(s.arena);
	assert_int_equal(s.n, 0);
	close(dup_fd);
	close(fd);

	/* a duplicate name in a handoff is refused (written by hand: the
	 * writer's check is the reader's too) */
	fd = keys_handoff_begin(getpid());
	assert_int_equal(keys_handoff_add(fd, "k1", key, 4), 0);
	assert_int_equal(keys_handoff_add(fd, "k1", key, 4), 0);
	assert_int_equal(keys_handoff_seal(fd), 0);
	assert_int_equal(keys_store_read(fd, &s), -EBADMSG);
	close(fd);
	/* a holder given a bad handoff reports it and exits 1 */
	{
		struct holder h;

		fd = memfd_create("x", MFD_CLOEXEC);
		assert_true(write(fd, "garbage", 7) == 7);
		assert_true(holder_start(fd, &h) < 0);
		assert_int_equal(WEXITSTATUS(holder_stop(&h)), 1);
	}
}

static char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/nbj-test-keys-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const struct {
	const char *yaml;
	const char *error;	/* expected after the path, NULL when valid */
	size_t n;
} policy_rows[] = {
	{ "secrets: {a: {file: /etc/k}, b-2_X: {env: KEY_B}}\n", NULL, 2 },
	{ "secrets: {}\n", NULL, 0 },
	{ "secrets: [a]\n", ":1:10: secrets: expected a mapping", 0 },
	{ "secrets:\n  a.b: {file: /k}\n", ":2:3: secrets: a secret's name", 0 },
	{ "secrets:\n  a: {file: k}\n", ":2:13: secrets.a.file: 'k': an absolute file name", 0 },
	{ "secrets:\n  a: {env: 1X}\n", ":2:12: secrets.a.env: '1X': a variable NAME", 0 },
	{ "secrets:\n  a: {file: /k, env: K}\n", ":2:6: secrets.a: expected {file: PATH}", 0 },
	{ "secrets:\n  a: {path: /k}\n", ":2:7: secrets.a: unknown source 'path'", 0 },
	{ "secrets:\n  a: /k\n", ":2:6: secrets.a: expected {file: PATH}", 0 },
	{ "secrets:\n  a: {env: [K]}\n", ":2:12: secrets.a.env: expected a string", 0 },
	{ "secrets:\n  a: {env: K}\n  a: {env: L}\n", ":3:3: secrets: 'a' given twice", 0 },
};

static void policy_secrets(void **state)
{
	char big[8192], err[512];
	size_t o;

	(void)state;
	for (size_t i = 0; i < sizeof(policy_rows) / sizeof(policy_rows[0]); i++) {
		struct policy_doc d;
		char *path = write_temp(policy_rows[i].yaml);
		int r = policy_load(path, &d, err, sizeof(err));

		if (!policy_rows[i].error) {
			assert_int_equal(r, 0);
			assert_int_equal(d.n_secrets, policy_rows[i].n);
			policy_doc_free(&d);
		} else {
			assert_true(r < 0);
			if (!strstr(err, policy_rows[i].error))
				fail_msg("row %zu: '%s' lacks '%s'", i, err, policy_rows[i].error);
		}
		unlink(path);
	}
	{
		struct policy_doc d;
		char *path = write_temp("secrets: {k1: {file: /etc/k}, K_2: {env: KEY_B}}\n");

		assert_int_equal(policy_load(path, &d, err, sizeof(err)), 0);
		assert_string_equal(d.secrets[0].name, "k1");
		assert_int_equal(d.secrets[0].source, SECRET_FILE);
		assert_string_equal(d.secrets[0].from, "/etc/k");
		assert_string_equal(d.secrets[1].name, "K_2");
		assert_int_equal(d.secrets[1].source, SECRET_ENV);
		assert_string_equal(d.secrets[1].from, "KEY_B");
		policy_doc_free(&d);
		unlink(path);
	}
	/* 64 secrets, not 65; a name of 64, not 65 */
	for (int n = 64; n <= 65; n++) {
		struct policy_doc d;
		char *path;
		int r;

		o = (size_t)snprintf(big, sizeof(big), "secrets:\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "  k%d: {env: K}\n", i);
		path = write_temp(big);
		r = policy_load(path, &d, err, sizeof(err));
		if (n == 64) {
			assert_int_equal(r, 0);
			policy_doc_free(&d);
		} else {
			assert_int_equal(r, -E2BIG);
			assert_non_null(strstr(err, "more than 64 secrets"));
		}
		unlink(path);
	}
	for (int n = 64; n <= 65; n++) {
		struct policy_doc d;
		char name[80], *path;
		int r;

		memset(name, 'n', (size_t)n);
		name[n] = '\0';
		snprintf(big, sizeof(big), "secrets: {%s: {env: K}}\n", name);
		path = write_temp(big);
		r = policy_load(path, &d, err, sizeof(err));
		assert_int_equal(r, n == 64 ? 0 : -EINVAL);
		if (!r)
			policy_doc_free(&d);
		unlink(path);
	}
}

/* Two policy files of one job: names join, a name in both is refused
 * and the second file changes nothing */
static void secrets_across_files(void **state)
{
	struct nbj_config *cfg;
	char a[64], b[64], err[512];
	FILE *out;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	snprintf(a, sizeof(a), "%s", write_temp("secrets: {k1: {env: A}}\n"));
	snprintf(b, sizeof(b), "%s", write_temp("secrets: {k1: {env: B}}\nprofile: minimal\n"));
	assert_int_equal(nbj_config_new(&cfg), 0);
	assert_int_equal(nbj_config_load_policy(cfg, a, err, sizeof(err)), 0);
	assert_int_equal(nbj_config_load_policy(cfg, b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "secrets.k1: already given by an earlier policy file"));
	out = open_memstream(&text, &len);
	assert_int_equal(nbj_config_print_policy(cfg, out), 0);
	fclose(out);
	assert_non_null(strstr(text, "profile: net\n"));
	assert_non_null(strstr(text, "secrets:\n  k1: {env: \"A\"}\n"));
	free(text);
	nbj_config_free(cfg);
	unlink(a);
	unlink(b);
}

/*
 * FETCH (credentials, relay/term.c): a '+' key's bytes come back; a
 * sign-only key is never returned, and SIGN never uses a '+' key
 */
static void fetch_credentials(void **state)
{
	static const char cred[] = "ghp_0123456789abcdefABCDEF0123456789abcd";
	unsigned char buf[SECRET_BYTES_MAX], mac[KEYS_MAC_LEN];
	struct holder h;
	int fd = keys_handoff_begin(getpid());

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(keys_handoff_add(fd, "sign1", "Jefe", 4), 0);
	assert_int_equal(keys_handoff_add(fd, "+github", cred, strlen(cred)), 0);
	assert_int_equal(keys_handoff_add(fd, "+", "x", 1), -EINVAL);
	assert_int_equal(keys_handoff_add(fd, "+a/b", "x", 1), -EINVAL);
	assert_int_equal(keys_handoff_seal(fd), 0);
	assert_int_equal(holder_start(fd, &h), 0);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(keyholder_fetch(h.fd, "+github", buf, sizeof(buf)), (ssize_t)strlen(cred));
	assert_memory_equal(buf, cred, strlen(cred));
	assert_int_equal(keyholder_fetch(h.fd, "+github", buf, 8), -ENOBUFS);
	assert_int_equal(keyholder_fetch(h.fd, "+nope", buf, sizeof(buf)), -ENOKEY);
	/* a sign-only key: not fetchable, whatever the client asks */
	assert_int_equal(keyholder_fetch(h.fd, "sign1", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(keyholder_fetch(h.fd, "+sign1", buf, sizeof(buf)), -ENOKEY);
	{
		/* FETCH of "sign1" by hand: the holder refuses it too */
		struct keys_sign_msg m = { .hdr = { .magic = KEYS_MAGIC, .type = KEYS_MSG_FETCH,
						    .id = 77 } };
		struct keys_secret_msg r;

		memcpy(m.name, "sign1", 5);
		assert_int_equal(send(h.fd, &m, sizeof(m), 0), (ssize_t)sizeof(m));
		assert_true(recv(h.fd, &r, sizeof(r), 0) >= (ssize_t)(sizeof(r.hdr) + sizeof(r.status)));
		assert_int_equal(r.hdr.id, 77);
		assert_int_equal(r.status, -ENOKEY);
		assert_int_equal(r.hdr.len, 0);
	}
	/* SIGN never uses a credential */
	assert_int_equal(keyholder_sign(h.fd, "+github", "x", 1, mac), -EINVAL);
	assert_int_equal(keyholder_sign(h.fd, "sign1", "x", 1, mac), 0);
	assert_int_equal(holder_stop(&h), 0);
}

static struct {
	unsigned n;
	uint32_t id;
	char bytes[64];
} strays;

static void on_stray(const void *msg, size_t len, void *arg)
{
	const struct keys_secret_msg *m = msg;

	assert_ptr_equal(arg, &strays);
	assert_true(len >= sizeof(m->hdr) + sizeof(m->status) && m->hdr.len < sizeof(strays.bytes));
	strays.n++;
	strays.id = m->hdr.id;
	memcpy(strays.bytes, m->bytes, m->hdr.len);
	strays.bytes[m->hdr.len] = '\0';
}

/*
 * A FETCH sent without waiting (relay/keyfetch.c), then a blocking SIGN
 * on the same socket: the SECRET that comes first is handed to the stray
 * handler, and the SIGN still gets its own answer
 */
static void sign_hands_on_stray_secret(void **state)
{
	static const char cred[] = "ghp_stray";
	struct keys_sign_msg m = { .hdr = { .magic = KEYS_MAGIC, .type = KEYS_MSG_FETCH,
					    .id = 0xc0000005u } };
	unsigned char mac[KEYS_MAC_LEN];
	struct holder h;
	int fd = keys_handoff_begin(getpid());

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(keys_handoff_add(fd, "sign1", "Jefe", 4), 0);
	assert_int_equal(keys_handoff_add(fd, "+github", cred, strlen(cred)), 0);
	assert_int_equal(keys_handoff_seal(fd), 0);
	assert_int_equal(holder_start(fd, &h), 0);
	keyholder_on_stray(on_stray, &strays);
	memcpy(m.name, "+github", 7);
	/* answered before SIGN is even sent (drain), and while it waits */
	for (int round = 0; round < 2; round++) {
		strays.n = 0;
		assert_int_equal(send(h.fd, &m, sizeof(m), 0), (ssize_t)sizeof(m));
		if (round == 0)
			usleep(100000);	/* the answer waits in the socket */
		assert_int_equal(keyholder_sign(h.fd, "sign1", "x", 1, mac), 0);
		assert_int_equal(strays.n, 1);
		assert_int_equal(strays.id, 0xc0000005u);
		assert_string_equal(strays.bytes, cred);
	}
	keyholder_on_stray(NULL, NULL);
	assert_int_equal(holder_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4231_vectors),
		cmocka_unit_test(fetch_credentials),
		cmocka_unit_test(sign_hands_on_stray_secret),
		cmocka_unit_test(unknown_and_bad),
		cmocka_unit_test(malformed_requests),
		cmocka_unit_test(one_mib),
		cmocka_unit_test(status_of_holder),
		cmocka_unit_test(filter_kills_open),
		cmocka_unit_test(handoff_wiped_and_checked),
		cmocka_unit_test(policy_secrets),
		cmocka_unit_test(secrets_across_files),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
