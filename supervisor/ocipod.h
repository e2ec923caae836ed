/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/ocipod.h - a confined container's netns shared by a pod
 * (supervisor/ocipod.c), used by its supervisor's watch (ocijob.c)
 */
#ifndef NBJ_SUPERVISOR_OCIPOD_H
#define NBJ_SUPERVISOR_OCIPOD_H

#include <poll.h>
#include <stddef.h>

struct nbj_job;

/* the containers that may join one pod's netns */
#define OCI_POD_MEMBERS_MAX 32
/* the agent's socket, the revocation watch, a pidfd and a listener per member */
#define OCI_POD_POLL_MAX (2 + 2 * OCI_POD_MEMBERS_MAX)

int oci_pod_open(const struct nbj_job *job, const char *container_id, const char *policy,
		 int netns);
size_t oci_pod_poll_fds(struct pollfd *pfd);
void oci_pod_dispatch(struct nbj_job *job, const struct pollfd *pfd, size_t n);
void oci_pod_close(const struct nbj_job *job);

#endif /* NBJ_SUPERVISOR_OCIPOD_H */
