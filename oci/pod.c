/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/pod.c - `nbjail oci-hook` for a container that joins a pod's netns
 *
 * Theory of operation: in a pod (podman pods; CRI-O and containerd
 * sandboxes) the infra (pause) container has the network namespace of
 * its own, and the pod's other containers join it by path
 * (/proc/INFRA/ns/net in their config.json).  The infra container, when
 * it carries the annotation, is confined as any container (hook.c,
 * supervisor/ocijob.c); its supervisor records the identity of the netns
 * in DIR/<job>/netns and holds an fd of it (supervisor/ocipod.c).  A
 * container that joins a netns by path is started only if, at its
 * createRuntime:
 *
 *   1. its init's netns (/proc/PID/ns/net, what it really got) is the
 *      one its config names (the path, opened and fstat()ed): same
 *      st_dev and st_ino; and it is not the host's (hook.c);
 *   2. a job's record names that st_dev and st_ino (a netns nbjail set
 *      up and no other);
 *   3. that job's supervisor, asked on its seccomp.sock with our fd of
 *      the netns, confirms it holds the very same one (so a record left
 *      by a dead supervisor, whose netns number the kernel may have
 *      given again, matches nothing: the connection is refused), and
 *      that the container names the pod's policy file.
 *
 * Anything else (no record, a gone job, another policy, a malformed
 * answer) refuses the container, with a message: fail closed.  The
 * supervisor then knows the container (its init's pidfd) and takes its
 * seccomp listener from the agent as it takes the infra's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "oci/hook.h"
#include "supervisor/supervisor.h"

#define POD_ANSWER_TIMEOUT_S 5
#define POD_CANDIDATES_MAX 8

/**
 * struct record_match - jobs whose netns record names one netns
 * @st:		the netns's identity
 * @ids:	the jobs found
 * @n:		their number
 */
struct record_match {
	struct stat st;
	char ids[POD_CANDIDATES_MAX][16];
	size_t n;
};

static void match_record(const char *id, void *data)
{
	struct record_match *m = data;
	char path[NBJ_PATH_MAX], text[64];
	unsigned long long dev, ino;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (m->n == POD_CANDIDATES_MAX ||
	    runtime_path(path, "%s/%s", id, NBJ_OCI_NETNS_RECORD) < 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text) - 1);
	if (n <= 0)
		return;
	text[n] = '\0';
	if (sscanf(text, "%llu %llu", &dev, &ino) != 2 ||
	    dev != (unsigned long long)m->st.st_dev || ino != (unsigned long long)m->st.st_ino)
		return;
	snprintf(m->ids[m->n++], sizeof(m->ids[0]), "%s", id);
}

/**
 * oci_agent_dial() - connect to job @job_id's OCI socket
 * (NBJ_OCI_AGENT_SOCKET in its directory), for a request and its answer
 * @job_id:	the job
 * @timeout_s:	how long a receive on the connection may wait
 *
 * Return: the connected socket, or negative errno (-ENOENT,
 * -ECONNREFUSED and the like when the job is not there)
 */
int oci_agent_dial(const char *job_id, time_t timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	char path[NBJ_PATH_MAX];
	_cleanup_close_ int fd = -1;
	int err = runtime_path(path, "%s/%s", job_id, NBJ_OCI_AGENT_SOCKET);

	if (err < 0)
		return err;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

/* Ask job @job_id's supervisor to take the container: its answer, or
 * -ECONNREFUSED and the like when it is not there */
static int ask_job(const char *job_id, const struct oci_pod_request *req, int netns,
		   int pidfd)
{
	_cleanup_close_ int fd = oci_agent_dial(job_id, POD_ANSWER_TIMEOUT_S);
	int fds[2] = { netns, pidfd };
	int32_t answer;
	int err;

	if (fd < 0)
		return fd;
	err = fd_send(fd, req, sizeof(*req), fds, ARRAY_SIZE(fds));
	if (err < 0)
		return err;
	if (recv(fd, &answer, sizeof(answer), 0) != sizeof(answer))
		return -EPROTO;
	return answer > 0 ? -EPROTO : answer;
}

/**
 * oci_pod_join() - admit a container that joins a netns by path, or
 * refuse it (see the theory above)
 * @id:		the container's id
 * @pid:	its init
 * @netns:	an fd of its init's netns (not the host's: hook.c checked)
 * @joined:	the path its config.json names
 * @policy:	the policy file its annotation names
 *
 * Return: 0 (the container may start), or negative errno (logged: the
 * runtime does not start it)
 */
int oci_pod_join(const char *id, pid_t pid, int netns, const char *joined, const char *policy)
{
	struct oci_pod_request req = { .kind = OCI_POD_JOIN, .pid = pid };
	struct record_match m = { 0 };
	_cleanup_close_ int path_fd = -1, pidfd = -1;
	struct stat by_path;
	int err = -ESRCH;

	path_fd = open(joined, O_RDONLY | O_CLOEXEC);
	if (path_fd < 0 || fstat(path_fd, &by_path) < 0 || fstat(netns, &m.st) < 0) {
		err = negative_errno();
		log_err("oci-hook: container %s: the network namespace it joins (%s): %s: it "
			"is not started", id, joined, strerror(-err));
		return err;
	}
	if (by_path.st_dev != m.st.st_dev || by_path.st_ino != m.st.st_ino) {
		log_err("oci-hook: container %s: its init's network namespace is not %s, the one "
			"its config names: it is not started", id, joined);
		return -ESRCH;
	}
	if (strlen(id) > OCI_CONTAINER_ID_MAX || strlen(policy) >= sizeof(req.policy))
		return -ENAMETOOLONG;
	strcpy(req.id, id);
	strcpy(req.policy, policy);
	(void)state_list_jobs(match_record, &m);
	if (m.n == 0) {
		log_err("oci-hook: container %s joins the network namespace %s, which nbjail did "
			"not set up (no confined container holds it; is the pod's infra container "
			"annotated?): it is not started", id, joined);
		return -ESRCH;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = negative_errno();
		log_err("oci-hook: container %s: its init (pid %d): %s: it is not started", id,
			(int)pid, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < m.n; i++) {
		err = ask_job(m.ids[i], &req, netns, pidfd);
		if (err == 0)
			return 0;
		if (err == -EPERM) {
			log_err("oci-hook: container %s names the policy %s, which is not its pod's "
				"(the infra container's annotation): it is not started", id, policy);
			return err;
		}
		if (err == -EEXIST || err == -ENOSPC) {
			log_err("oci-hook: container %s: the pod's job refuses it (%s): it is not "
				"started", id, err == -EEXIST ? "a container of that id joined already"
				: "too many containers in the pod");
			return err;
		}
	}
	log_err("oci-hook: container %s joins the network namespace %s, whose nbjail job is gone "
		"or does not hold it (%s): it is not started", id, joined, strerror(-err));
	return err < 0 ? err : -ESRCH;
}
