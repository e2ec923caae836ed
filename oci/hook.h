/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/hook.h - `nbjail oci-hook`, the OCI runtime hook (oci/hook.c), and
 * `nbjail oci-agent`, the containers' seccomp agent (oci/agent.c)
 */
#ifndef NBJ_OCI_HOOK_H
#define NBJ_OCI_HOOK_H

#include <stdbool.h>
#include <sys/types.h>

/* hook.c */
int oci_hook_main(int argc, char **argv);
bool oci_container_id_valid(const char *id);
void oci_job_name(const char *id, char buf[64]);
bool oci_initial_userns(void);

/* pod.c */
int oci_pod_join(const char *id, pid_t pid, int netns, const char *joined, const char *policy);
int oci_agent_dial(const char *job_id, time_t timeout_s);

/* agent.c */
int oci_agent_main(int argc, char **argv);

#endif /* NBJ_OCI_HOOK_H */
