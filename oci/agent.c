/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/agent.c - `nbjail oci-agent`: the seccomp agent of confined containers
 *
 * Theory of operation: a container whose seccomp profile names our
 * socket as its listenerPath (and SCMP_ACT_NOTIFY for connect, bind,
 * listen, sendto, sendmsg, sendmmsg: nbjail-oci(8)) is started by crun,
 * which connects here once the container's filter is loaded and sends
 * its seccomp listener (SCM_RIGHTS) with the container's process state
 * (JSON: "fds", "pid", "metadata", "state": {"id", "annotations", ...}).
 * For a container with the annotation io.nbjail.policy we hand the
 * listener to the container's job: the hook's supervisor (ocijob.c,
 * ocipod.c) listens on DIR/<job>/seccomp.sock of the job named oci-<id>,
 * or, for a pod's member that joined another container's netns, of that
 * container's job (which answers -ENOENT for containers it does not
 * know: we ask the other oci- jobs in turn).  The job may appear, or
 * the member join, a little after the listener (the runtime's order),
 * so we look for AGENT_FIND_MS.  The supervisor's notifier then judges
 * the container's socket calls as in nbjail run.
 *
 * Whatever cannot be handed over (no annotation, no job, a malformed
 * state) is closed: the container's notified calls then fail with
 * ENOSYS, never pass unchecked.  One connection at a time; each is
 * bounded (AGENT_FIND_MS, a receive timeout).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/hook.h"
#include "supervisor/supervisor.h"

#define AGENT_STATE_MAX (64 * 1024)
#define AGENT_FIND_MS 5000
#define AGENT_RECV_TIMEOUT_S 2

static const char usage_text[] =
	"usage: nbjail oci-agent --socket PATH\n"
	"  the seccomp agent of containers confined by nbjail oci-hook: listens on\n"
	"  PATH, the listenerPath of their seccomp profile (nbjail-oci(8))\n";

#define AGENT_JOBS_MAX 64

/**
 * struct find_ctx - the oci- jobs that may take a container's listener
 * @name:	the container's own job name (oci-ID): asked first
 * @ids:	job ids, the container's own job first
 * @n:		their number
 */
struct find_ctx {
	char name[64];
	char ids[AGENT_JOBS_MAX][16];
	size_t n;
};

static void find_job(const char *id, void *data)
{
	struct find_ctx *c = data;
	struct job_info info;

	if (c->n == AGENT_JOBS_MAX || state_info_read(id, &info) < 0 ||
	    strncmp(info.name, "oci-", 4))
		return;
	snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", id);
	if (!strcmp(info.name, c->name) && c->n > 0) {
		/* the container's own job goes first */
		char first[16];

		memcpy(first, c->ids[0], sizeof(first));
		memcpy(c->ids[0], c->ids[c->n], sizeof(first));
		memcpy(c->ids[c->n], first, sizeof(first));
	}
	c->n++;
}

/* Hand @listener to job @job_id: its answer, or negative errno */
static int offer(const char *job_id, const struct oci_pod_request *req, int listener)
{
	_cleanup_close_ int fd = oci_agent_dial(job_id, AGENT_RECV_TIMEOUT_S);
	int32_t answer;

	if (fd < 0)
		return fd;
	if (fd_send(fd, req, sizeof(*req), &listener, 1) < 0 ||
	    recv(fd, &answer, sizeof(answer), 0) != sizeof(answer) || answer > 0)
		return -EPROTO;
	return answer;
}

/* Hand the listener of @container_id to the job that knows it, looking
 * for AGENT_FIND_MS: 0, -ENOENT when no job took it, or a job's refusal */
static int hand_over(const char *container_id, int listener)
{
	struct oci_pod_request req = { .kind = OCI_POD_LISTENER };
	struct timespec t0, t;

	snprintf(req.id, sizeof(req.id), "%s", container_id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct find_ctx c = { 0 };

		oci_job_name(container_id, c.name);
		(void)state_list_jobs(find_job, &c);
		for (size_t i = 0; i < c.n; i++) {
			int err = offer(c.ids[i], &req, listener);

			if (err == 0 || (err != -ENOENT && err != -ECONNREFUSED &&
					 err != -EPROTO && err != -ENAMETOOLONG))
				return err;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    AGENT_FIND_MS)
			return -ENOENT;
		usleep(20 * 1000);
	}
}

/* One connection of the runtime: see the theory above */
static void agent_handle(int conn)
{
	_cleanup_free_ char *buf = malloc(AGENT_STATE_MAX + 1);
	json_object *o = NULL, *st, *ann, *v;
	struct timeval tv = { .tv_sec = AGENT_RECV_TIMEOUT_S };
	const char *id = NULL, *policy = NULL;
	int fd = -1, err;
	size_t len = 0, n_fds = 0;
	ssize_t n;

	if (!buf)
		return;
	(void)setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = fd_recv(conn, buf, AGENT_STATE_MAX, 0, &fd, 1, &n_fds);
	while (n > 0 && (len += (size_t)n) < AGENT_STATE_MAX)
		n = recv(conn, buf + len, AGENT_STATE_MAX - len, 0);
	buf[len] = '\0';
	if (fd < 0 || n_fds != 1) {
		log_err("oci-agent: a connection without a seccomp listener: ignored");
		goto out;
	}
	o = json_tokener_parse(buf);
	if (o && json_object_object_get_ex(o, "state", &st) &&
	    json_object_object_get_ex(st, "id", &v) && json_object_is_type(v, json_type_string))
		id = json_object_get_string(v);
	if (id && json_object_object_get_ex(st, "annotations", &ann) &&
	    json_object_object_get_ex(ann, "io.nbjail.policy", &v) &&
	    json_object_is_type(v, json_type_string))
		policy = json_object_get_string(v);
	if (!id || !oci_container_id_valid(id)) {
		log_err("oci-agent: the container's state is not JSON with state.id: its "
			"socket calls fail");
		goto out;
	}
	if (!policy) {
		log_err("oci-agent: container %s has no annotation io.nbjail.policy: its socket "
			"calls fail (ENOSYS)", id);
		goto out;
	}
	err = hand_over(id, fd);
	if (err == -ENOENT)
		log_err("oci-agent: container %s: no nbjail job knows it (did the hook run?): its "
			"socket calls fail (ENOSYS)", id);
	else if (err < 0)
		log_err("oci-agent: container %s: its job refused the listener (%s): its socket "
			"calls fail (ENOSYS)", id, strerror(-err));
out:
	if (o)
		json_object_put(o);
	closep(&fd);
}

/**
 * oci_agent_main() - `nbjail oci-agent --socket PATH`
 * @argc:	argument count, argv[0] "oci-agent"
 * @argv:	arguments
 *
 * Runs until killed.
 *
 * Return: the exit status: 1 when it cannot listen, 2 for bad usage
 */
int oci_agent_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = NULL;
	_cleanup_close_ int sock = -1;
	int c;

	log_set_prefix("nbjail");
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return NBJ_EXIT_USAGE;
		}
	}
	if (optind != argc || !path || path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		fputs(usage_text, stderr);
		return NBJ_EXIT_USAGE;
	}
	if (geteuid() != 0 || !oci_initial_userns()) {
		log_err("oci-agent: runs as root, in the initial user namespace (the containers' "
			"jobs are root's; rootless containers are not supported)");
		return 1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	strcpy(sa.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)unlink(path);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(sock, 64) < 0) {
		log_err("oci-agent: cannot listen on %s: %m", path);
		return 1;
	}
	for (;;) {
		_cleanup_close_ int conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_err("oci-agent: accept: %m");
			return 1;
		}
		agent_handle(conn);
	}
}
