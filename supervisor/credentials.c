/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/credentials.c - `credentials:` and `http:` at start: the
 * stand-ins, the job CA, the job's trust bundle and environment
 *
 * Theory of operation: secrets_load() calls creds_load() while it fills
 * the key holder's handoff (before the job's state or namespaces exist):
 *
 *   1. each credential's secret is read like a `secrets:` file or
 *      variable (secret_read(): root's or the caller's, 0600, no
 *      symlink), its stand-in made from it (standin_make()), and its
 *      bytes appended to the handoff as "+NAME", then wiped here.  The
 *      key holder (nbjail-keys) keeps them; the relay fetches them for
 *      one write at a time (keyholder_fetch(), relay/term.c).
 *   2. the job CA: a fresh EC P-256 key and a self-signed CA certificate
 *      (pathlen 0, 30 days), made by `nbjail-keys --make-ca` (keys/ca.c)
 *      and read on a pipe; the key's DER goes to the handoff as "+ca",
 *      the certificate as "+ca-cert", and the key is freed here.  The
 *      relay fetches both at its start and mints the leaf certificates.
 *   3. the trust bundle: the system roots (/etc/ssl/certs/
 *      ca-certificates.crt) and the CA certificate.  The job's init
 *      writes it to JOB_CA_BUNDLE and binds it read-only over the
 *      distribution's bundle (mounts.c); creds_environ() points
 *      SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE,
 *      CURL_CA_BUNDLE and GIT_SSL_CAINFO at it and gives each
 *      credential's variable its stand-in.
 *
 * A stand-in has the secret's shape, so that client-side format checks
 * pass: the same prefix (up to the last '_' or '-' among the first 16
 * bytes: "ghp_", "github_pat_", "sk-proj-"), the same length, and after
 * the prefix, the same characters where they are not letters or digits,
 * elsewhere random ones drawn from the classes (lower, upper, digit) the
 * secret's rest uses.  It is fresh per job (getrandom()).  A secret that
 * is not printable ASCII, longer than CRED_STANDIN_MAX, or with fewer
 * than 16 random letters or digits cannot have a stand-in that the
 * tripwire recognises reliably: the job does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "keys/keys.h"
#include "supervisor/job_int.h"
#include "supervisor/supervisor.h"

#define STANDIN_PREFIX_SCAN 16
#define STANDIN_RANDOM_MIN 16
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define SYSTEM_BUNDLE_MAX (8u << 20)

static const char *const ca_env_vars[] = {
	"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	"GIT_SSL_CAINFO",
};

/**
 * creds_wanted() - whether the job needs termination: credentials or
 * http: rules
 * @cfg:	the job's configuration
 *
 * Return: true when the relay terminates some flows
 */
bool creds_wanted(const struct nbj_config *cfg)
{
	return cfg->n_credentials || cfg->n_http_rules;
}

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/**
 * standin_make() - a stand-in of @secret's shape (see the theory above)
 * @secret:	the secret's bytes
 * @len:	their length
 * @out:	the stand-in, NUL-terminated, @len bytes
 * @outlen:	room in @out
 *
 * Return: 0; -EINVAL for a secret without a usable shape (not printable
 * ASCII, fewer than 16 random letters or digits), -E2BIG when longer
 * than CRED_STANDIN_MAX or @outlen; -EIO when getrandom() fails
 */
int standin_make(const char *secret, size_t len, char *out, size_t outlen)
{
	char alphabet[62];
	size_t prefix = 0, n_alpha = 0, n_random = 0;
	bool lower = false, upper = false, digit = false;

	if (len > CRED_STANDIN_MAX || len + 1 > outlen)
		return -E2BIG;
	for (size_t i = 0; i < len; i++)
		if (secret[i] <= ' ' || secret[i] > '~')
			return -EINVAL;
	for (size_t i = 0; i < len && i < STANDIN_PREFIX_SCAN; i++)
		if (secret[i] == '_' || secret[i] == '-')
			prefix = i + 1;
	for (size_t i = prefix; i < len; i++) {
		lower |= is_lower(secret[i]);
		upper |= is_upper(secret[i]);
		digit |= is_digit(secret[i]);
		n_random += is_lower(secret[i]) || is_upper(secret[i]) || is_digit(secret[i]);
	}
	if (n_random < STANDIN_RANDOM_MIN)
		return -EINVAL;
	for (char ch = 'a'; lower && ch <= 'z'; ch++)
		alphabet[n_alpha++] = ch;
	for (char ch = 'A'; upper && ch <= 'Z'; ch++)
		alphabet[n_alpha++] = ch;
	for (char ch = '0'; digit && ch <= '9'; ch++)
		alphabet[n_alpha++] = ch;
	do {
		memcpy(out, secret, prefix);
		for (size_t i = prefix; i < len; i++) {
			unsigned char r;

			if (!is_lower(secret[i]) && !is_upper(secret[i]) && !is_digit(secret[i])) {
				out[i] = secret[i];
				continue;
			}
			do {	/* no modulo bias: 256 - 256 % n values only */
				if (getrandom(&r, 1, 0) != 1)
					return -EIO;
			} while (r >= 256 - 256 % n_alpha);
			out[i] = alphabet[r % n_alpha];
		}
		out[len] = '\0';
	} while (!memcmp(out, secret, len));
	return 0;
}

/* Append one key to the handoff, logged on failure */
static int handoff_add(int fd, const char *name, const void *bytes, size_t len)
{
	int err = keys_handoff_add(fd, name, bytes, len);

	if (err < 0)
		log_err("credentials: cannot hand %s to the key holder: %s", name,
			strerror(-err));
	return err;
}

/* 1. every credential's secret to the holder, its stand-in to @ret */
static int load_secrets(const struct nbj_config *cfg, int fd, struct job_creds *ret)
{
	unsigned char buf[SECRET_BYTES_MAX + 1];
	int err = 0;

	for (size_t i = 0; i < cfg->n_credentials && !err; i++) {
		const struct nbj_credential *cr = &cfg->credentials[i];
		struct policy_secret s = { .source = cr->from_env ? SECRET_ENV : SECRET_FILE };
		char key[SECRET_NAME_MAX + 2];
		ssize_t n;

		snprintf(s.name, sizeof(s.name), "%s", cr->name);
		snprintf(s.from, sizeof(s.from), "%s", cr->from);
		n = secret_read(&s, buf, sizeof(buf));
		if (n < 0) {
			err = (int)n;
			break;
		}
		err = standin_make((const char *)buf, (size_t)n, ret->standin[i],
				   sizeof(ret->standin[i]));
		if (err < 0)
			log_err("credentials.%s: the secret (%zd bytes) %s", cr->name, n,
				err == -E2BIG ? "is too long for a stand-in (at most 512 bytes)" :
				err == -EINVAL ? "needs printable ASCII with at least 16 random "
						 "letters or digits after its prefix" :
				"has no stand-in: getrandom() failed");
		snprintf(key, sizeof(key), "+%s", cr->name);
		if (!err)
			err = handoff_add(fd, key, buf, (size_t)n);
		explicit_bzero(buf, sizeof(buf));
	}
	return err;
}

/* 2. the job CA, made by `nbjail-keys --make-ca` (keys/ca.c: OpenSSL's
 * certificate code stays out of nbjail): its key's DER to the holder as
 * "+ca", the certificate as "+ca-cert" and to @ret */
static int make_ca(int fd, struct job_creds *ret)
{
	_cleanup_close_ int program = helper_program_open("nbjail-keys", NBJ_KEYS_PROGRAM,
							  "the key holder");
	unsigned char buf[2 * (sizeof(uint32_t) + SECRET_BYTES_MAX)];
	size_t len = 0;
	uint32_t der_len, pem_len;
	int pipefd[2], status, err = -EIO;
	pid_t pid;

	if (program < 0)
		return program;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)"nbjail-keys", (char *)"--make-ca", NULL };
		char *envp[] = { NULL };

		if (dup2(pipefd[1], STDOUT_FILENO) < 0)
			_exit(127);
		syscall(SYS_execveat, program, "", argv, envp, AT_EMPTY_PATH);
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && len < sizeof(buf)) {
		ssize_t n = read(pipefd[0], buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || len < sizeof(der_len))
		goto out;
	memcpy(&der_len, buf, sizeof(der_len));
	if (der_len > SECRET_BYTES_MAX || len < 2 * sizeof(uint32_t) + der_len)
		goto out;
	memcpy(&pem_len, buf + sizeof(der_len) + der_len, sizeof(pem_len));
	if (pem_len > SECRET_BYTES_MAX || len != 2 * sizeof(uint32_t) + der_len + pem_len)
		goto out;
	ret->ca_pem = strndup((char *)buf + 2 * sizeof(uint32_t) + der_len, pem_len);
	if (!ret->ca_pem) {
		err = -ENOMEM;
		goto out;
	}
	err = handoff_add(fd, "+ca", buf + sizeof(der_len), der_len);
	if (!err)
		err = handoff_add(fd, "+ca-cert", ret->ca_pem, strlen(ret->ca_pem));
out:
	if (err == -EIO)
		log_err("credentials: cannot make the job CA (nbjail-keys --make-ca)");
	explicit_bzero(buf, sizeof(buf));
	return err;
}

/* 3. the system roots and the job CA, one PEM file */
static int make_bundle(struct job_creds *ret)
{
	_cleanup_close_ int fd = open(SYSTEM_BUNDLE, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, len = 0, ca_len = strlen(ret->ca_pem);
	char *buf = malloc(cap);

	while (buf && fd >= 0) {
		ssize_t n;

		if (cap - len < 4096) {
			char *grown = cap < SYSTEM_BUNDLE_MAX ? realloc(buf, cap * 2) : NULL;

			if (!grown) {
				free(buf);
				log_err("credentials: %s is larger than %u bytes", SYSTEM_BUNDLE,
					SYSTEM_BUNDLE_MAX);
				return -EFBIG;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (fd < 0)
		log_warn("credentials: no %s: the job trusts the job CA only", SYSTEM_BUNDLE);
	if (buf && cap - len < ca_len + 2) {
		char *grown = realloc(buf, len + ca_len + 2);

		if (!grown)
			free(buf);
		buf = grown;
	}
	if (!buf)
		return -ENOMEM;
	if (len && buf[len - 1] != '\n')
		buf[len++] = '\n';
	memcpy(buf + len, ret->ca_pem, ca_len + 1);
	ret->bundle = buf;
	return 0;
}

/**
 * creds_load() - stand-ins, the job CA and the trust bundle (see the
 * theory above); the secrets and the CA key go to the key holder only
 * @cfg:	the job's configuration
 * @handoff_fd:	the key holder's handoff, not sealed yet
 * @ret:	filled; creds_free() releases it, also on failure
 *
 * Return: 0, or negative errno (logged, naming the credential)
 */
int creds_load(const struct nbj_config *cfg, int handoff_fd, struct job_creds *ret)
{
	int err = load_secrets(cfg, handoff_fd, ret);

	if (!err)
		err = make_ca(handoff_fd, ret);
	if (!err)
		err = make_bundle(ret);
	return err;
}

/**
 * creds_environ() - the job's environment with the stand-ins and the
 * bundle's variables, replacing any variable of the same names
 * @cfg:	the job's configuration (credentials)
 * @c:		what creds_load() made; keeps the added strings
 * @envp:	the environment of environ_build(), replaced by a new array
 *		(the old one, whose block holds some of its strings, is kept
 *		in @c until creds_free())
 *
 * Return: 0, or -ENOMEM
 */
int creds_environ(const struct nbj_config *cfg, struct job_creds *c, char ***envp)
{
	size_t n_add = cfg->n_credentials + ARRAY_SIZE(ca_env_vars), n = 0, k = 0;
	char **old = *envp, **env, **add;

	if (!creds_wanted(cfg))
		return 0;
	add = calloc(n_add + 1, sizeof(*add));
	if (!add)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_credentials; i++)
		if (asprintf(&add[k++], "%s=%s", cfg->credentials[i].env, c->standin[i]) < 0)
			add[--k] = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(ca_env_vars); i++)
		if (asprintf(&add[k++], "%s=%s", ca_env_vars[i], JOB_CA_BUNDLE) < 0)
			add[--k] = NULL;
	while (old && old[n])
		n++;
	env = calloc(n + n_add + 1, sizeof(*env));
	if (!env || k != n_add) {
		for (size_t i = 0; i < k; i++)
			free(add[i]);
		free(add);
		free(env);
		return -ENOMEM;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(old[i], '=');
		size_t len = eq ? (size_t)(eq - old[i]) : strlen(old[i]);
		bool replaced = false;

		for (size_t a = 0; a < n_add && !replaced; a++)
			replaced = !strncmp(add[a], old[i], len) && add[a][len] == '=';
		if (!replaced)
			env[k++] = old[i];
	}
	for (size_t a = 0; a < n_add; a++)
		env[k++] = add[a];
	/* environ_build() keeps strings in its array's block (PATH): the old
	 * array lives as long as @c */
	free(c->old_env);
	c->old_env = old;
	/* the job's clone copies them; @c keeps them until creds_free() */
	c->env = add;
	*envp = env;
	return 0;
}

/**
 * creds_free() - release what creds_load() and creds_environ() made
 * @c:		zeroed afterwards
 */
void creds_free(struct job_creds *c)
{
	for (size_t i = 0; c->env && c->env[i]; i++)
		free(c->env[i]);
	free(c->env);
	free(c->old_env);
	free(c->ca_pem);
	free(c->bundle);
	explicit_bzero(c, sizeof(*c));
}
