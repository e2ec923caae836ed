/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/ocipod.c - a confined container's netns shared by a pod
 *
 * Theory of operation: the detached supervisor of a confined container
 * (ocijob.c, one container per process) owns the container's network
 * namespace as long as its job lives.  In a pod (podman pods, CRI-O and
 * containerd sandboxes) that container is the infra (pause) container,
 * and the pod's other containers join its netns by path.  This file is
 * what the supervisor does for them:
 *
 *   oci_pod_open()     after the set-up: holds an fd of the netns (its
 *                      identity cannot be reused while held), listens on
 *                      DIR/<job>/seccomp.sock (root's, 0600), then
 *                      writes DIR/<job>/netns: "DEV INO\n" of the netns.
 *                      The record exists only once the socket does, and
 *                      goes (oci_pod_close()) before the socket.
 *   requests           on seccomp.sock, one struct oci_pod_request per
 *                      connection (SOCK_SEQPACKET), answered with an
 *                      int32: 0 or a negative errno.
 *     OCI_POD_JOIN     from the hook of a container that joins a netns
 *                      by path (oci/pod.c), with its netns fd and its
 *                      init's pidfd: accepted only if that netns is
 *                      this job's (fstat: st_dev and st_ino of the held
 *                      fd, -ESRCH otherwise) and the container names the
 *                      same policy file (-EPERM otherwise).  The member
 *                      is remembered until its init is gone (its pidfd).
 *     OCI_POD_LISTENER from the seccomp agent (oci/agent.c), with a
 *                      container's seccomp listener: the infra's goes to
 *                      the job's notifier (job_start_notifier()), a
 *                      member's to a notifier of its own with the job's
 *                      policy, floor and audit; anyone else's: -ENOENT.
 *                      One listener per container (-EEXIST).
 *
 * "revoked" in the job's directory (nbjail ctl revoke) reaches the
 * members' notifiers through an inotify watch of our own; the job's own
 * notifier has its watch in job.c.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "supervisor/job_int.h"
#include "supervisor/ocipod.h"

#define POD_RECV_TIMEOUT_S 2

/**
 * struct pod_member - a container that joined the job's netns
 * @id:		its container id ("" for a free slot)
 * @pid:	its init
 * @pidfd:	a pidfd of its init: readable when it is gone
 * @notifier:	the notifier of its seccomp listener, NULL before the agent
 *		hands it over
 * @notify_live: its listener still has processes (not POLLHUP yet)
 */
struct pod_member {
	char id[OCI_CONTAINER_ID_MAX + 1];
	pid_t pid;
	int pidfd;
	struct notifier *notifier;
	bool notify_live;
};

/**
 * struct oci_pod - the pod side of this process's one confined container
 * @container_id: the (infra) container the job was made for
 * @policy:	its policy file: members must name the same
 * @netns:	an fd of its netns, held while the job lives
 * @agent:	the listening seccomp.sock
 * @revoke_watch: inotify on the job's directory, for "revoked"
 * @members:	the containers that joined
 */
struct oci_pod {
	char container_id[OCI_CONTAINER_ID_MAX + 1];
	char policy[OCI_POLICY_PATH_MAX];
	int netns;
	int agent;
	int revoke_watch;
	struct pod_member members[OCI_POD_MEMBERS_MAX];
};

static struct oci_pod pod = { .netns = -1, .agent = -1, .revoke_watch = -1 };

/* The job's seccomp.sock, listening */
static int agent_socket(const struct nbj_job *job)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[NBJ_PATH_MAX];
	_cleanup_close_ int fd = -1;
	int err = runtime_path(path, "%s/%s", job->state.id, NBJ_OCI_AGENT_SOCKET);

	if (err < 0)
		return err;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

/* DIR/<job>/netns, written to netns.tmp and renamed */
static int record_write(const struct nbj_job *job, const struct stat *st)
{
	char tmp[NBJ_PATH_MAX], path[NBJ_PATH_MAX], text[64];
	int err = runtime_path(tmp, "%s/%s.tmp", job->state.id, NBJ_OCI_NETNS_RECORD);

	if (!err)
		err = runtime_path(path, "%s/%s", job->state.id, NBJ_OCI_NETNS_RECORD);
	if (err < 0)
		return err;
	snprintf(text, sizeof(text), "%llu %llu\n", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
	err = file_write_string(tmp, text, 0600);
	if (!err && rename(tmp, path) < 0)
		err = negative_errno();
	return err;
}

/**
 * oci_pod_open() - let a pod's containers join the job's netns: hold it,
 * listen on seccomp.sock, record its identity
 * @job:	the container's job, set up (oci_job_attach())
 * @container_id: its container id
 * @policy:	its policy file
 * @netns:	an fd of its netns (duplicated)
 *
 * Return: 0, or negative errno
 */
int oci_pod_open(const struct nbj_job *job, const char *container_id, const char *policy,
		 int netns)
{
	char path[NBJ_PATH_MAX];
	struct stat st;
	int err;

	if (strlen(container_id) > OCI_CONTAINER_ID_MAX || strlen(policy) >= sizeof(pod.policy))
		return -ENAMETOOLONG;
	strcpy(pod.container_id, container_id);
	strcpy(pod.policy, policy);
	for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++)
		pod.members[i] = (struct pod_member){ .pidfd = -1 };
	pod.netns = fcntl(netns, F_DUPFD_CLOEXEC, 3);
	if (pod.netns < 0 || fstat(pod.netns, &st) < 0)
		return negative_errno();
	pod.agent = agent_socket(job);
	if (pod.agent < 0)
		return pod.agent;
	err = runtime_path(path, "%s", job->state.id);
	if (err < 0)
		return err;
	pod.revoke_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pod.revoke_watch < 0 ||
	    inotify_add_watch(pod.revoke_watch, path, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0)
		return negative_errno();
	return record_write(job, &st);
}

static bool job_revoked(const struct nbj_job *job)
{
	char path[NBJ_PATH_MAX];

	return runtime_path(path, "%s/revoked", job->state.id) == 0 && access(path, F_OK) == 0;
}

/*
 * A member's notifier judges as the job's (job_start_notifier(), job.c):
 * the job's policy, floor, addresses and audit; the member's init shows
 * its private /run
 */
static int member_notifier(struct nbj_job *job, struct pod_member *m, int listener)
{
	struct job_policy *p = &job->pol;
	struct notify_scope scope = {
		.policy = &p->policy,
		.floor = {
			.host = p->host_addrs,
			.n_host = p->n_host_addrs,
			.job_nets = p->job_nets,
			.n_job_nets = ARRAY_SIZE(p->job_nets),
		},
		.has_net = true,
		.audit = &job->audit,
		.local = {
			{ .family = AF_INET, .v4 = job->net.job4 },
			{ .family = AF_INET6, .v6 = job->net.job6 },
		},
		.n_local = 2,
		.gateway = { { .family = AF_INET, .v4 = job->net.nameserver4 } },
		.n_gateway = 1,
	};
	int err = notifier_new(listener, &scope, job->state.id, m->pid, &m->notifier);

	if (err < 0)
		return err;
	m->notify_live = true;
	if (job_revoked(job))
		notifier_revoke(m->notifier);
	return 0;
}

static struct pod_member *member_find(const char *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++)
		if (pod.members[i].id[0] && !strcmp(pod.members[i].id, id))
			return &pod.members[i];
	return NULL;
}

static void member_drop(struct pod_member *m)
{
	notifier_free(m->notifier);
	closep(&m->pidfd);
	*m = (struct pod_member){ .pidfd = -1 };
}

/* OCI_POD_JOIN: see the theory above */
static int pod_join(const struct nbj_job *job, const struct oci_pod_request *req,
		    const int fds[2])
{
	struct stat ours, theirs;
	struct pod_member *m = NULL;

	if (fstat(pod.netns, &ours) < 0 || fstat(fds[0], &theirs) < 0)
		return negative_errno();
	if (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)
		return -ESRCH;
	if (strcmp(req->policy, pod.policy)) {
		log_warn("job %s: container %s names %s, the pod's policy is %s: refused",
			 job->state.id, req->id, req->policy, pod.policy);
		return -EPERM;
	}
	if (!strcmp(req->id, pod.container_id) || member_find(req->id))
		return -EEXIST;
	for (size_t i = 0; i < ARRAY_SIZE(pod.members) && !m; i++)
		if (!pod.members[i].id[0])
			m = &pod.members[i];
	if (!m)
		return -ENOSPC;
	strcpy(m->id, req->id);
	m->pid = req->pid;
	m->pidfd = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
	if (m->pidfd < 0) {
		int err = negative_errno();

		member_drop(m);
		return err;
	}
	return 0;
}

/* OCI_POD_LISTENER: see the theory above; @fd is taken */
static int pod_listener(struct nbj_job *job, const struct oci_pod_request *req, int fd)
{
	struct pod_member *m;
	int err;

	if (!strcmp(req->id, pod.container_id)) {
		if (job->notifier) {
			close(fd);
			return -EEXIST;
		}
		job->listener = fd;
		return job_start_notifier(job);
	}
	m = member_find(req->id);
	if (!m) {
		close(fd);
		return -ENOENT;
	}
	if (m->notifier) {
		close(fd);
		return -EEXIST;
	}
	err = member_notifier(job, m, fd);
	if (err < 0)
		log_err("job %s: container %s: cannot watch its socket calls: %s",
			job->state.id, m->id, strerror(-err));
	return err;
}

/* One connection on seccomp.sock: one request, one answer */
static void pod_accept(struct nbj_job *job)
{
	_cleanup_close_ int conn = accept4(pod.agent, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = POD_RECV_TIMEOUT_S };
	struct oci_pod_request req = { 0 };
	int fds[2] = { -1, -1 };
	int32_t answer = -EINVAL;
	size_t n_fds = 0;
	ssize_t n;

	if (conn < 0)
		return;
	(void)setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = fd_recv(conn, &req, sizeof(req), 0, fds, ARRAY_SIZE(fds), &n_fds);
	if (n != (ssize_t)sizeof(req) || !memchr(req.id, '\0', sizeof(req.id)) ||
	    !memchr(req.policy, '\0', sizeof(req.policy)))
		goto out;
	if (req.kind == OCI_POD_JOIN && n_fds == 2) {
		answer = pod_join(job, &req, fds);
	} else if (req.kind == OCI_POD_LISTENER && n_fds == 1) {
		answer = pod_listener(job, &req, fds[0]);
		fds[0] = -1;
	}
out:
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		closep(&fds[i]);
	if (answer < 0 && answer != -ENOENT)
		log_warn("job %s: request '%c' of container %.*s refused: %s", job->state.id,
			 n > 0 ? req.kind : '?', n > 0 ? OCI_CONTAINER_ID_MAX : 0,
			 n > 0 ? req.id : "", strerror(-answer));
	(void)!send(conn, &answer, sizeof(answer), MSG_NOSIGNAL);
}

static void pod_revocation(const struct nbj_job *job)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(pod.revoke_watch, buf, sizeof(buf)) > 0)
		;
	if (!job_revoked(job))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++)
		if (pod.members[i].notifier)
			notifier_revoke(pod.members[i].notifier);
}

/**
 * oci_pod_poll_fds() - what the supervisor's poll watches for the pod
 * @pfd:	receives up to OCI_POD_POLL_MAX entries
 *
 * Return: how many were filled
 */
size_t oci_pod_poll_fds(struct pollfd *pfd)
{
	size_t n = 0;

	pfd[n++] = (struct pollfd){ .fd = pod.agent, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = pod.revoke_watch, .events = POLLIN };
	for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++) {
		const struct pod_member *m = &pod.members[i];

		if (!m->id[0])
			continue;
		pfd[n++] = (struct pollfd){ .fd = m->pidfd, .events = POLLIN };
		if (m->notifier && m->notify_live)
			pfd[n++] = (struct pollfd){ .fd = notifier_fd(m->notifier),
						    .events = POLLIN };
	}
	return n;
}

/**
 * oci_pod_dispatch() - handle what oci_pod_poll_fds()'s fds reported
 * @job:	the container's job
 * @pfd:	the entries oci_pod_poll_fds() filled, with their revents
 * @n:		their number
 */
void oci_pod_dispatch(struct nbj_job *job, const struct pollfd *pfd, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == pod.agent) {
			pod_accept(job);
			continue;
		}
		if (pfd[k].fd == pod.revoke_watch) {
			pod_revocation(job);
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++) {
			struct pod_member *m = &pod.members[i];

			if (!m->id[0])
				continue;
			if (m->notifier && m->notify_live && pfd[k].fd == notifier_fd(m->notifier)) {
				/* no process uses the filter any more: POLLHUP only */
				if (notifier_dispatch(m->notifier) == 1)
					m->notify_live = false;
			} else if (pfd[k].fd == m->pidfd) {
				member_drop(m);	/* its init is gone */
			}
		}
	}
}

/**
 * oci_pod_close() - the pod's end: the record first (no member finds the
 * netns any more), then the socket, the members, the netns fd
 * @job:	the container's job
 */
void oci_pod_close(const struct nbj_job *job)
{
	char path[NBJ_PATH_MAX];

	if (runtime_path(path, "%s/%s", job->state.id, NBJ_OCI_NETNS_RECORD) == 0)
		(void)unlink(path);
	closep(&pod.agent);
	pod.agent = -1;
	closep(&pod.revoke_watch);
	pod.revoke_watch = -1;
	for (size_t i = 0; i < ARRAY_SIZE(pod.members); i++)
		if (pod.members[i].id[0])
			member_drop(&pod.members[i]);
	closep(&pod.netns);
	pod.netns = -1;
}
