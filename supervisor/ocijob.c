/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/ocijob.c - a job around an OCI container's network namespace
 *
 * Theory of operation: `nbjail oci-hook` (oci/hook.c) runs as an OCI
 * createRuntime hook, when the runtime has made the container's
 * namespaces and its init waits; oci_job_attach() makes that container a
 * job, in the order of nbj_job_start() (job.c) minus what the runtime
 * already did (user namespace, mounts, the workload's start):
 *
 *   1. state: DIR/<id> with its lock (state.c); the job's copy of its
 *      policy (jobpolicy.c)
 *   2. the container's init stands for the job's init: its pidfd is the
 *      job's reaper_pidfd, so that teardown (keeper.c) waits for it
 *   3. the keeper and the audit writer (auditstart.c), the per-job ids
 *      of the relay and the writer (jobuids.c), the host's addresses for
 *      the floor
 *   4. a helper forked for it setns()es into the container's netns and
 *      calls job_netns_setup() (jobnet.c), the very set-up of a job's
 *      init: lo with the job's addresses, default routes via lo, the
 *      relay's sockets made in there, the nftables redirect; it sends
 *      the sockets back and exits
 *   5. the relay is exec'd with them (relaystart.c); the state file
 *      records the pids for nbjail gc
 *   6. seccomp.sock and the netns record, for the agent and for a pod's
 *      other containers (ocipod.c); the job-start event
 *
 * Any failure tears down what exists (job_teardown()) and is returned:
 * the hook exits non-zero and the runtime does not start the container.
 *
 * oci_job_watch() then waits in the hook's detached process until the
 * container's init is gone (its pidfd) or a stop request (the poststop
 * hook's SIGTERM), and tears the job down: the relay is killed, the
 * audit writer writes the job-end event, the keeper removes the state.
 * Meanwhile it listens on DIR/<id>/seccomp.sock (ocipod.c), where the
 * seccomp agent (oci/agent.c) hands over the container's seccomp
 * listener, which the job's notifier then serves as in nbjail run
 * (seccomp/notify.c), and where the containers of a pod that join this
 * container's netns by path register (and get their listeners judged
 * the same way).  The supervisor holds an fd of the netns while the job
 * lives; the relay's sockets hold it too.
 */
#include <sched.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "supervisor/job_int.h"
#include "supervisor/ocipod.h"

/*
 * Step 4: a helper in the container's netns makes the job's network with
 * job_netns_setup() and sends the relay's sockets back (SCM_RIGHTS),
 * after an int: 0 or the negative errno of what failed.  A helper, so
 * that this process never leaves the host's netns.
 */
static int netns_setup_in(struct nbj_job *job, int netns)
{
	int sv[2], fds[RELAY_FDS], got[RELAY_FDS], status = -EIO;
	const unsigned want = 1u << RELAY_FD_TCP4 | 1u << RELAY_FD_TCP6 |
			      1u << RELAY_FD_DNS4 | 1u << RELAY_FD_DNS6;
	size_t n = 0, k = 0;
	siginfo_t si;
	int pidfd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	pid = clone_pidfd(0, &pidfd);
	if (pid < 0) {
		status = negative_errno();
		close(sv[0]);
		close(sv[1]);
		return status;
	}
	if (pid == 0) {
		int err, count = 0;

		close(sv[0]);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(netns, CLONE_NEWNET) < 0) {
			err = negative_errno();
			log_err("cannot enter the container's network namespace: %s",
				strerror(-err));
		} else {
			err = job_netns_setup(&job->net, 0, false, fds, NULL);
		}
		for (int i = 0; !err && i < RELAY_FDS; i++)
			if (want & 1u << i)
				fds[count++] = fds[i];
		(void)fd_send(sv[1], &err, sizeof(err), fds, err ? 0 : (size_t)count);
		_exit(err ? 1 : 0);
	}
	close(sv[1]);
	for (int i = 0; i < RELAY_FDS; i++)
		got[i] = -1;
	if (fd_recv(sv[0], &status, sizeof(status), 0, got, RELAY_FDS, &n) != sizeof(status))
		status = -ECHILD;
	close(sv[0]);
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(pidfd);
	if (status == 0 && n != (size_t)__builtin_popcount(want))
		status = -EPROTO;
	if (status < 0) {
		for (size_t i = 0; i < n; i++)
			closep(&got[i]);
		return status;
	}
	for (int i = 0; i < RELAY_FDS; i++)
		if (want & 1u << i)
			job->relay_fds[i] = got[k++];
	return 0;
}

/**
 * oci_job_attach() - make an OCI container a job: its netns confined as
 * a net job's, a relay and an audit writer for it
 * @cfg:	the container's policy (profile net; no workload is started,
 *		argv names the container for the audit trail)
 * @container_id: the container's id: its own seccomp listener is the
 *		job's; a pod's other containers name the same policy file
 * @init_pid:	the container's init, as seen from this PID namespace
 * @netns:	an fd of the container's network namespace
 * @ret:	the job; watch it with oci_job_watch()
 *
 * Root only (as the runtime's hooks run); the caller has checked that
 * @netns is the container's own, not the host's.  See the theory above.
 *
 * Return: 0, or negative errno (logged; nothing is left, and the
 * container's init has been killed)
 */
int oci_job_attach(const struct nbj_config *cfg, const char *container_id, pid_t init_pid,
		   int netns, struct nbj_job **ret)
{
	struct host_inventory inv = { 0 };
	struct nbj_job *job = job_alloc();
	int err;

	if (!job)
		return -ENOMEM;
	job->attached = true;
	job->has_net = true;
	/* 1. state and policy */
	err = state_job_create(&job->state);
	if (err < 0) {
		log_err("cannot create the job's state under %s: %s", nbj_runtime_dir(),
			strerror(-err));
		goto fail;
	}
	job->state_created = true;
	job->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (job->epfd < 0) {
		err = negative_errno();
		goto fail;
	}
	job_net_default(&job->net);
	err = job_policy_copy(&job->pol, cfg, &inv);
	if (err < 0)
		goto fail;
	/* 2. the container's init stands for the job's */
	job->reaper_pidfd = (int)syscall(SYS_pidfd_open, init_pid, 0);
	if (job->reaper_pidfd < 0) {
		err = negative_errno();
		log_err("the container's init (pid %d): %s", (int)init_pid, strerror(-err));
		goto fail;
	}
	job->reaper_pid = init_pid;
	/* 3. the keeper and audit writer, the ids, the host's addresses */
	err = start_audit(job, cfg);
	if (err < 0)
		goto fail;
	err = job_ids_claim(&job->ids);
	if (err < 0) {
		log_err("cannot claim the ids of the job's relay and audit writer: %s",
			strerror(-err));
		goto fail;
	}
	err = keeper_send_ids(job);
	if (err < 0)
		goto fail;
	err = link_host_inventory(&inv);
	if (err < 0) {
		log_err("cannot read the host's addresses: %s", strerror(-err));
		goto fail;
	}
	free(job->pol.host_addrs);
	job->pol.host_addrs = TAKE_PTR(inv.addrs);
	job->pol.n_host_addrs = inv.n_addrs;
	/* 4. the container's netns, set up as a job's */
	err = netns_setup_in(job, netns);
	if (err < 0) {
		log_err("cannot set up the container's network: %s", strerror(-err));
		goto fail;
	}
	/* 5. the relay, the state file, the start event */
	err = start_relay(job);
	if (!err)
		err = relay_send_job_fds(job);
	if (!err)
		err = keeper_started(job);
	if (err < 0)
		goto fail;
	err = job_record_state(job);
	if (err < 0) {
		log_err("cannot write the job's state file: %s", strerror(-err));
		goto fail;
	}
	err = epoll_watch(job->epfd, job->reaper_pidfd, JOB_EVENT_ATTACHED_GONE);
	if (err < 0)
		goto fail;
	/* 6. the pod's containers may join (ocipod.c) */
	err = oci_pod_open(job, container_id,
			   cfg->n_policy_files ? cfg->policy_files[0] : "", netns);
	if (err < 0) {
		log_err("cannot open the job's seccomp.sock and netns record: %s",
			strerror(-err));
		oci_pod_close(job);
		goto fail;
	}
	audit_job_start(job, cfg);
	link_host_inventory_free(&inv);
	*ret = job;
	return 0;

fail:
	link_host_inventory_free(&inv);
	nbj_job_free(job);
	return err;
}

/**
 * oci_job_watch() - wait until the container has ended or @stop_fd is
 * readable, then remove every trace of the job
 * @job:	the job of oci_job_attach(), freed here
 * @stop_fd:	a signalfd (SIGTERM from the poststop hook), or -1
 *
 * Meanwhile the container's seccomp listener may come from the agent
 * (`nbjail oci-agent`, nbjail-oci(8)); without it the kernel's part (the
 * container's netns, the relay) is the whole enforcement.  A pod's
 * containers join and hand over their listeners too (ocipod.c); when
 * this container's init is gone, the job ends and they are left with
 * lo only (the relay's sockets are gone).  A relay that
 * dies leaves the container without network (its sockets go with it):
 * that is audited and the watch goes on.
 *
 * Return: 0, or negative errno of the wait (the job is torn down anyway)
 */
int oci_job_watch(struct nbj_job *job, int stop_fd)
{
	struct pollfd pfd[2 + OCI_POD_POLL_MAX];
	int err = 0;

	while (!job->ended) {
		size_t n;

		pfd[0] = (struct pollfd){ .fd = job->epfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		n = 2 + oci_pod_poll_fds(pfd + 2);
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = negative_errno();
			break;
		}
		if (pfd[1].revents & POLLIN)
			break;
		oci_pod_dispatch(job, pfd + 2, n - 2);
		(void)nbj_job_dispatch(job);
	}
	oci_pod_close(job);
	nbj_job_free(job);
	return err;
}
