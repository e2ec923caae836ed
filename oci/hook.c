/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/hook.c - `nbjail oci-hook`: the OCI runtime hook (nbjail-oci(8))
 *
 * Theory of operation: the runtime (crun, runc; podman and CRI-O put
 * the hook in the container's config.json from a hooks.d file whose
 * `when` matches the annotation io.nbjail.policy) runs us with the
 * container's state on stdin: {"id", "status", "pid", "bundle",
 * "annotations"}, parsed with json-c.  The status says the stage:
 *
 *   creating/created (createRuntime): the container's namespaces exist,
 *      its init waits for the runtime.  Refused, with a message and a
 *      non-zero exit (the runtime then does not start the container),
 *      unless: the annotation names a policy file in the policy
 *      directory (--policy-dir, default /etc/nbjail/policies) that
 *      loads, is of profile net and uses nothing a hook cannot give
 *      (publish, limits, secrets, unix_allow, write), root's and
 *      writable by no one else; the bundle's
 *      config.json gives the container a network namespace of its own
 *      that the runtime created (no path: podman --network none) and
 *      neither CAP_NET_ADMIN nor CAP_SYS_ADMIN (which could undo its
 *      ruleset); /proc/PID/ns/net is not ours.  A container that joins
 *      a network namespace by path (a pod's member joining its infra
 *      container's) is started only if nbjail set that netns up for a
 *      container of the same policy and still holds it (oci/pod.c): it
 *      gets nothing of its own, the pod's job confines it.  Otherwise
 *      a detached process
 *      (own session, stdio on /dev/null, its log on a memfd until the
 *      set-up is done) makes the container a job (supervisor/ocijob.c):
 *      relay, audit writer, the container's netns set up as a job's.
 *      It reports to us through a pipe; we print its log and exit 0
 *      only if it worked.  It stays, as the job's supervisor, until the
 *      container's init is gone, and then removes everything.
 *      Rootless podman runs hooks as uid 0 of the user's namespace:
 *      refused there (oci_initial_userns()), with a message.
 *   stopped (poststop): the job named after the container is asked to
 *      end (SIGTERM to its supervisor) and waited for; what is left
 *      after that goes to nbj_gc().
 *
 * No annotation in the state at createRuntime: refused.  The runtime ran
 * the hook because a hooks.d file matched: the shipped one matches the
 * annotation, which podman looks for in the container's own annotations
 * but CRI-O in the container's merged with its pod's, while the state
 * carries the container's own only; a site's file with "always": true
 * means every container must be confined.  Either way the container
 * asked for a confinement the hook cannot give it.  Other stages
 * without the annotation: nothing to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/hook.h"
#include "supervisor/supervisor.h"

#define OCI_STATE_MAX (1 << 20)		/* the state JSON on stdin */
#define OCI_CONFIG_MAX (16 << 20)	/* the bundle's config.json */
#define OCI_STOP_WAIT_MS 10000
#define OCI_ANNOTATION "io.nbjail.policy"
#define OCI_POLICY_DIR "/etc/nbjail/policies"
#define OCI_EXIT_REFUSED 1

static const char usage_text[] =
	"usage: nbjail oci-hook [--policy-dir DIR]\n"
	"  an OCI runtime hook (createRuntime and poststop): reads the container's\n"
	"  state on stdin; with the annotation " OCI_ANNOTATION "=NAME or\n"
	"  DIR/NAME.yaml, confines the container's network as an nbjail job's\n"
	"  --policy-dir DIR   where policies are (default " OCI_POLICY_DIR ")\n"
	"See nbjail-oci(8).\n";

/* The capabilities that could undo the job's ruleset or leave its netns */
static const char *const refused_caps[] = { "CAP_NET_ADMIN", "CAP_SYS_ADMIN" };

/**
 * struct oci_state - what the hook uses of the container's state
 * @id:		the container's id
 * @status:	creating, created, stopped, ...
 * @pid:	its init, 0 when it has none (stopped)
 * @bundle:	its bundle directory (config.json)
 * @policy:	the value of io.nbjail.policy, or NULL
 */
struct oci_state {
	const char *id;
	const char *status;
	pid_t pid;
	const char *bundle;
	const char *policy;
};

/* All of @fd up to @max bytes, NUL-terminated (free() it) */
static int read_all(int fd, size_t max, char **ret)
{
	size_t len = 0, size = 4096;
	char *buf = malloc(size);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == size) {
			char *more;

			if (size >= max) {
				free(buf);
				return -EFBIG;
			}
			size *= 2;
			more = realloc(buf, size);
			if (!more) {
				free(buf);
				return -ENOMEM;
			}
			buf = more;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = negative_errno();

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* A JSON document of @fd; NULL (logged as @what) when it is not one */
static json_object *parse_json(int fd, size_t max, const char *what)
{
	_cleanup_free_ char *text = NULL;
	enum json_tokener_error jerr;
	json_object *o;
	int err = read_all(fd, max, &text);

	if (err < 0) {
		log_err("oci-hook: cannot read %s: %s", what, strerror(-err));
		return NULL;
	}
	o = json_tokener_parse_verbose(text, &jerr);
	if (!o) {
		log_err("oci-hook: %s is not JSON: %s", what, json_tokener_error_desc(jerr));
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		log_err("oci-hook: %s is not a JSON object", what);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A string member, NULL when absent or not a string */
static const char *member_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/**
 * oci_container_id_valid() - is @id a container id as runtimes make them
 * @id:		the state's "id", may be NULL
 *
 * Return: true for 1-128 letters, digits, '_', '.', '-'
 */
bool oci_container_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '.' ||
		      id[i] == '-'))
			return false;
	return true;
}

static int state_parse(json_object *o, struct oci_state *ret)
{
	json_object *v, *ann;

	*ret = (struct oci_state){ 0 };
	ret->id = member_string(o, "id");
	ret->status = member_string(o, "status");
	ret->bundle = member_string(o, "bundle");
	if (!oci_container_id_valid(ret->id)) {
		log_err("oci-hook: the state's \"id\" is missing or not a container id");
		return -EINVAL;
	}
	if (!ret->status) {
		log_err("oci-hook: the state has no \"status\"");
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "pid", &v)) {
		int64_t pid = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || pid < 0 || pid > INT_MAX) {
			log_err("oci-hook: the state's \"pid\" is not a pid");
			return -EINVAL;
		}
		ret->pid = (pid_t)pid;
	}
	if (json_object_object_get_ex(o, "annotations", &ann)) {
		if (!json_object_is_type(ann, json_type_object)) {
			log_err("oci-hook: the state's \"annotations\" is not an object");
			return -EINVAL;
		}
		if (json_object_object_get_ex(ann, OCI_ANNOTATION, &v) &&
		    !(ret->policy = json_object_get_string(v), json_object_is_type(v, json_type_string))) {
			log_err("oci-hook: annotation " OCI_ANNOTATION " is not a string");
			return -EINVAL;
		}
	}
	return 0;
}

/* A policy root's and writable by no one else (as nbjail's helper
 * programs): what a container gets is the node administrator's choice */
static int policy_file_trusted(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;	/* the loader names the missing file */
	if (st.st_uid != 0 || (st.st_mode & 0022)) {
		log_err("oci-hook: %s: not root's, or writable by others: the container is "
			"not started", path);
		return -EPERM;
	}
	return 0;
}

/*
 * The annotation's policy: NAME or DIR/NAME.yaml, NAME of letters,
 * digits, '_', '.', '-' not starting with '.', in the policy directory
 * the node's administrator chose; a container names no other file.
 */
static int policy_path(const char *dir, const char *value, char *buf, size_t len)
{
	size_t dlen = strlen(dir), n;
	const char *name = value;

	if (!strncmp(value, dir, dlen) && value[dlen] == '/')
		name = value + dlen + 1;
	n = strlen(name);
	if (name != value) {
		if (n <= 5 || strcmp(name + n - 5, ".yaml"))
			goto bad;
		n -= 5;
	}
	if (n == 0 || n > 64 || name[0] == '.')
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '.' ||
		      name[i] == '-'))
			goto bad;
	if ((size_t)snprintf(buf, len, "%s/%.*s.yaml", dir, (int)n, name) >= len)
		goto bad;
	return policy_file_trusted(buf);
bad:
	log_err("oci-hook: annotation " OCI_ANNOTATION "=%s: not NAME or %s/NAME.yaml (NAME of "
		"letters, digits, '_', '.', '-')", value, dir);
	return -EINVAL;
}

/* What a policy may use under the hook: the network, nothing else */
static int policy_supported(const struct nbj_config *cfg, const char *path)
{
	const char *what = NULL;

	if (cfg->profile != NBJ_PROFILE_NET)
		what = "a profile other than net";
	else if (cfg->n_publish)
		what = "publish";
	else if (cfg->limits.pids || cfg->limits.memory)
		what = "limits (the container runtime's cgroups hold those)";
	else if (cfg->n_secrets)
		what = "secrets (there is no dock in a container)";
	else if (cfg->n_unix_allow)
		what = "unix_allow";
	else if (cfg->n_fs_rules)
		what = "write";
	if (!what)
		return 0;
	log_err("oci-hook: %s: %s is not supported for containers; the container is not "
		"started", path, what);
	return -EOPNOTSUPP;
}

/* Any list of process.capabilities holds a refused capability? */
static const char *caps_refused(json_object *config)
{
	static const char *const sets[] = { "bounding", "effective", "permitted",
					    "inheritable", "ambient" };
	json_object *process, *caps, *list;

	if (!json_object_object_get_ex(config, "process", &process) ||
	    !json_object_object_get_ex(process, "capabilities", &caps))
		return NULL;
	for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
		if (!json_object_object_get_ex(caps, sets[s], &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			const char *c = json_object_get_string(json_object_array_get_idx(list, i));

			for (size_t k = 0; c && k < ARRAY_SIZE(refused_caps); k++)
				if (!strcmp(c, refused_caps[k]))
					return refused_caps[k];
		}
	}
	return NULL;
}

/*
 * The bundle's config.json: a network namespace the runtime created (the
 * container has no network but its own lo), or one joined by path (its
 * path in @joined, checked by oci_pod_join()), and no capability that
 * could undo the ruleset
 */
static int bundle_check(const char *bundle, char joined[PATH_MAX])
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	json_object *config = NULL, *linux_o, *nss;
	const char *cap, *why = NULL;
	bool own_netns = false;

	joined[0] = '\0';
	if (!bundle || bundle[0] != '/' ||
	    (size_t)snprintf(path, sizeof(path), "%s/config.json", bundle) >= sizeof(path)) {
		log_err("oci-hook: the state's \"bundle\" is missing or not an absolute path");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		log_err("oci-hook: cannot open %s: %m", path);
		return -errno;
	}
	config = parse_json(fd, OCI_CONFIG_MAX, path);
	if (!config)
		return -EINVAL;
	if (json_object_object_get_ex(config, "linux", &linux_o) &&
	    json_object_object_get_ex(linux_o, "namespaces", &nss) &&
	    json_object_is_type(nss, json_type_array))
		for (size_t i = 0; i < json_object_array_length(nss); i++) {
			json_object *ns = json_object_array_get_idx(nss, i);
			const char *type = member_string(ns, "type");

			if (type && !strcmp(type, "network")) {
				const char *p = member_string(ns, "path");

				own_netns = !json_object_object_get_ex(ns, "path", NULL);
				joined[0] = '\0';
				if (p && p[0] == '/' && strlen(p) < PATH_MAX)
					strcpy(joined, p);
				else if (!own_netns)
					why = "joins a network namespace by a path that is not one";
			}
		}
	if (!own_netns && !joined[0] && !why)
		why = "has no network namespace of its own (use --network none)";
	cap = caps_refused(config);
	if (!why && cap)
		why = cap;
	json_object_put(config);
	if (!why)
		return 0;
	log_err("oci-hook: the container %s%s: it is not started", cap == why ? "has " : "",
		why);
	return -EPERM;
}

/* /proc/PID/ns/net, refused if it is our own (the host's) */
static int container_netns(pid_t pid)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	struct stat theirs, ours;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0) {
		log_err("oci-hook: the container's network namespace (%s): %m", path);
		return -errno;
	}
	if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
		log_err("oci-hook: the container shares the host's network namespace: it is "
			"not started");
		return -EPERM;
	}
	return TAKE_FD(fd);
}

/**
 * oci_initial_userns() - does this process run in the initial user
 * namespace (whose nsfs inode the kernel fixes: PROC_USER_INIT_INO)
 *
 * Rootless podman runs its hooks as uid 0 of the user's namespace:
 * root's /run/nbjail, per-job ids and policy ownership mean nothing
 * there, and nbjail's rootless mode is chosen by the real uid.
 *
 * Return: true in the initial user namespace; false elsewhere, or when
 * it cannot be told
 */
bool oci_initial_userns(void)
{
	struct stat st;

	return stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDu;
}

/**
 * oci_job_name() - the name of a container's job: oci-ID, cut to what a
 * job name may hold (the hook names it, poststop and the agent find it)
 * @id:		the container's id
 * @buf:	receives the name
 */
void oci_job_name(const char *id, char buf[64])
{
	snprintf(buf, 64, "oci-%.59s", id);
}

/* The config of the container's job: its policy, its names */
static int job_config(const struct oci_state *st, const char *path, struct nbj_config **ret)
{
	char name[64], field[AUDIT_FIELD_MAX], errbuf[512];
	char *argv[] = { (char *)"oci-container", (char *)st->id, NULL };
	struct nbj_config *cfg = NULL;
	int err = nbj_config_new(&cfg);

	if (err < 0)
		return err;
	err = nbj_config_load_policy(cfg, path, errbuf, sizeof(errbuf));
	if (err < 0) {
		log_err("oci-hook: %s; the container is not started", errbuf);
		goto fail;
	}
	err = policy_supported(cfg, path);
	if (err < 0)
		goto fail;
	oci_job_name(st->id, name);
	snprintf(field, sizeof(field), "NBJAIL_OCI_CONTAINER_ID=%.128s", st->id);
	err = nbj_config_set_name(cfg, name);
	if (!err)
		err = nbj_config_set_argv(cfg, argv);
	if (!err)
		err = nbj_config_add_audit_field(cfg, field);
	if (err < 0) {
		log_err("oci-hook: cannot name the job: %s", strerror(-err));
		goto fail;
	}
	*ret = cfg;
	return 0;
fail:
	nbj_config_free(cfg);
	return err;
}

/*
 * The detached supervisor of the container's job: attaches, reports
 * through @report, then watches until the container is gone
 */
static _Noreturn void supervise(const struct nbj_config *cfg, const char *id, pid_t pid,
				int netns, int report, int log_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), err, stop = -1;
	int keep[] = { report, log_fd, netns, null };
	struct nbj_job *job = NULL;
	sigset_t mask;

	(void)setsid();
	(void)prctl(PR_SET_NAME, "nbjail-oci");	/* in ps: the container's supervisor */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(1);
	fds_close_all_except(keep, ARRAY_SIZE(keep));
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	stop = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	err = stop < 0 ? negative_errno() : oci_job_attach(cfg, id, pid, netns, &job);
	close(netns);
	(void)!write(report, &err, sizeof(err));
	close(report);
	if (err < 0)
		_exit(1);
	/* the hook has printed the set-up's log: later lines go nowhere */
	(void)dup2(null, 2);
	close(log_fd);
	_exit(oci_job_watch(job, stop) < 0 ? 1 : 0);
}

/* createRuntime: see the theory above */
static int hook_create(const struct oci_state *st, const char *policy_dir)
{
	char path[PATH_MAX], joined[PATH_MAX], buf[4096];
	struct nbj_config *cfg = NULL;
	_cleanup_close_ int log_fd = -1;
	int report[2], err = -EIO, netns;
	ssize_t n;
	off_t off = 0;
	pid_t child;

	if (geteuid() != 0 || !oci_initial_userns()) {
		log_err("oci-hook: container %s: the hook runs %s; rootless containers are not "
			"supported (nbjail-oci(8), ROOTLESS): it is not started", st->id,
			geteuid() != 0 ? "as a user other than root"
				       : "in a user namespace (rootless podman runs its hooks as "
					 "root of the user's namespace)");
		return OCI_EXIT_REFUSED;
	}
	if (st->pid <= 0) {
		log_err("oci-hook: the state has no \"pid\" of the container's init");
		return OCI_EXIT_REFUSED;
	}
	if (policy_path(policy_dir, st->policy, path, sizeof(path)) < 0 ||
	    job_config(st, path, &cfg) < 0)
		return OCI_EXIT_REFUSED;
	if (bundle_check(st->bundle, joined) < 0)
		goto refused;
	netns = container_netns(st->pid);
	if (netns < 0)
		goto refused;
	if (joined[0]) {
		/* a pod's member: the pod's job confines it (oci/pod.c) */
		err = oci_pod_join(st->id, st->pid, netns, joined, path);
		close(netns);
		nbj_config_free(cfg);
		return err < 0 ? OCI_EXIT_REFUSED : 0;
	}
	log_fd = memfd_create("nbjail-oci-hook-log", MFD_CLOEXEC);
	if (log_fd < 0 || pipe2(report, O_CLOEXEC) < 0) {
		log_err("oci-hook: %m");
		close(netns);
		goto refused;
	}
	fflush(stderr);
	child = fork();
	if (child == 0) {
		close(report[0]);
		supervise(cfg, st->id, st->pid, netns, report[1], log_fd);
	}
	close(report[1]);
	close(netns);
	if (child < 0 || read(report[0], &err, sizeof(err)) != sizeof(err))
		err = child < 0 ? negative_errno() : -ECHILD;
	close(report[0]);
	/* what the set-up said, to the runtime's log */
	while ((n = pread(log_fd, buf, sizeof(buf), off)) > 0) {
		(void)!write(2, buf, (size_t)n);
		off += n;
	}
	nbj_config_free(cfg);
	if (err < 0) {
		log_err("oci-hook: container %s: cannot confine its network (%s): it is not "
			"started", st->id, strerror(-err));
		return OCI_EXIT_REFUSED;
	}
	return 0;
refused:
	nbj_config_free(cfg);
	return OCI_EXIT_REFUSED;
}

/* createRuntime without the annotation: see the theory above */
static int hook_unannotated(const struct oci_state *st)
{
	log_err("oci-hook: container %s: the runtime runs the hook, but the container's "
		"state has no annotation " OCI_ANNOTATION " (CRI-O matches a pod's annotations "
		"but passes the container's own; or the hooks.d file matches every "
		"container): it cannot be confined and is not started", st->id);
	return OCI_EXIT_REFUSED;
}

/**
 * struct stop_ctx - the jobs of one container, for poststop
 * @name:	the job name of the container
 * @n_stopped:	supervisors asked to end
 * @ids:	their job ids
 */
struct stop_ctx {
	char name[64];
	size_t n_stopped;
	char ids[8][16];
};

static void stop_job(const char *id, void *data)
{
	struct stop_ctx *c = data;
	struct job_info info;

	if (state_info_read(id, &info) < 0 || strcmp(info.name, c->name) ||
	    c->n_stopped == ARRAY_SIZE(c->ids))
		return;
	snprintf(c->ids[c->n_stopped++], sizeof(c->ids[0]), "%s", id);
	if (info.supervisor_pid > 1)
		(void)kill(info.supervisor_pid, SIGTERM);
}

static bool job_dir_gone(const char *id)
{
	char path[NBJ_PATH_MAX];

	return runtime_path(path, "%s", id) < 0 || access(path, F_OK) < 0;
}

/* poststop: the container's job ends now, if it has not yet */
static int hook_poststop(const struct oci_state *st)
{
	struct stop_ctx c = { 0 };
	struct timespec t0, t;
	bool gone = false;

	oci_job_name(st->id, c.name);
	if (state_list_jobs(stop_job, &c) < 0 || c.n_stopped == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		gone = true;
		for (size_t i = 0; i < c.n_stopped; i++)
			gone = gone && job_dir_gone(c.ids[i]);
		if (gone)
			break;
		usleep(20 * 1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 <
		 OCI_STOP_WAIT_MS);
	if (!gone) {
		log_warn("oci-hook: container %s: its job did not end in time; nbjail gc "
			 "removes what is left", st->id);
		(void)nbj_gc(NULL, NULL);
	}
	return 0;
}

/**
 * oci_hook_main() - `nbjail oci-hook [--policy-dir DIR]`
 * @argc:	argument count, argv[0] "oci-hook"
 * @argv:	arguments
 *
 * Return: the exit status: 0, 1 when the container is refused (the
 * runtime does not start it), 2 for bad usage
 */
int oci_hook_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy_dir = OCI_POLICY_DIR;
	struct oci_state st;
	json_object *state;
	bool is_create;
	int c, rc;

	log_set_prefix("nbjail");
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			policy_dir = optarg;
			if (policy_dir[0] != '/' || strlen(policy_dir) > PATH_MAX / 2) {
				fprintf(stderr, "nbjail: oci-hook: --policy-dir '%s': an absolute "
					"directory\n%s", policy_dir, usage_text);
				return NBJ_EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return NBJ_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nbjail: oci-hook: unexpected argument '%s'\n%s", argv[optind],
			usage_text);
		return NBJ_EXIT_USAGE;
	}
	state = parse_json(0, OCI_STATE_MAX, "the container's state (stdin)");
	if (!state)
		return OCI_EXIT_REFUSED;
	if (state_parse(state, &st) < 0) {
		json_object_put(state);
		return OCI_EXIT_REFUSED;
	}
	is_create = !strcmp(st.status, "creating") || !strcmp(st.status, "created");
	if (!strcmp(st.status, "stopped"))
		rc = oci_initial_userns() ? hook_poststop(&st) : 0;	/* never confined */
	else if (!st.policy && is_create)
		rc = hook_unannotated(&st);
	else if (!st.policy)
		rc = 0;	/* not ours: nothing to do */
	else if (is_create)
		rc = hook_create(&st, policy_dir);
	else {
		log_err("oci-hook: container %s: status '%s': run the hook at createRuntime "
			"and poststop (nbjail-oci(8))", st.id, st.status);
		rc = OCI_EXIT_REFUSED;
	}
	json_object_put(state);
	return rc;
}
