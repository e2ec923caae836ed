/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/main.c - nbjail-relay, the job's relay as a program of its own
 *
 * Theory of operation: supervisor/relaystart.c forks, enters ROLE_RELAY
 * (common/roles.c: the job's relay id, no capability, no_new_privs,
 * death with the supervisor) and execs this program with the handoff
 * memfd's number as its first argument and the fds the handoff names
 * (relay/handoff.c), before the job's init has made the job-side
 * sockets: those come later on one of them (relay_job_fds_recv()); a
 * second argument names a sealed memfd with its allow-list already
 * compiled (common/bpfcache.c).  So
 * the relay holds its configuration and its overlays' secrets, and none
 * of the supervisor's memory: not other overlays' files, not the caller's
 * environment, not the policy's other secrets.
 *
 * It maps the job's statistics and the tenant's counters from their fds,
 * closes the handoff and runs relay_run() (relay/loop.c), which installs
 * the relay's syscall allow-list before its first event.  Not meant to be
 * run by hand: without a valid handoff it exits 2.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/bpfcache.h"
#include "common/log.h"
#include "relay/dock_http.h"
#include "relay/relay.h"
#include "supervisor/tenant.h"

static void *map_shared(int fd, size_t size)
{
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < (off_t)size)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	struct relay_handoff_storage st;
	struct relay_config cfg;
	int stats_fd = -1, tenant_fd = -1, err;

	char *end = NULL, *fend = NULL;
	long handoff = argc == 2 || argc == 3 ? strtol(argv[1], &end, 10) : -1;
	long filter_fd = argc == 3 ? strtol(argv[2], &fend, 10) : -1;
	struct sock_fprog filter = { 0 };

	log_set_prefix("nbjail-relay");
	/* exec made us dumpable again: no core file of the overlays'
	 * secrets, no ptrace by another process of our uid */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return 2;
	if (handoff < 3 || handoff > INT_MAX || !end || *end) {
		fprintf(stderr, "nbjail-relay: started by nbjail run only\n");
		return 2;
	}
	err = relay_handoff_read((int)handoff, &cfg, &st, &stats_fd, &tenant_fd);
	if (err < 0) {
		log_err("no valid handoff at fd %ld: %s", handoff, strerror(-err));
		return 2;
	}
	(void)close((int)handoff);
	/* the allow-list, compiled by the supervisor from root's cache */
	if (argc == 3) {
		if (filter_fd < 3 || filter_fd > INT_MAX || !fend || *fend ||
		    bpf_memfd_read((int)filter_fd, &filter) < 0) {
			log_err("no valid allow-list at fd %s", argv[2]);
			return 2;
		}
		(void)close((int)filter_fd);
		cfg.filter = &filter;
	}
	cfg.audit.stats = map_shared(stats_fd, sizeof(struct job_stats));
	if (!cfg.audit.stats || cfg.audit.stats->magic != JOB_STATS_MAGIC) {
		log_err("cannot map the job's statistics");
		return 2;
	}
	if (tenant_fd >= 0) {
		cfg.audit.tenant = map_shared(tenant_fd, sizeof(struct tenant_state));
		if (!cfg.audit.tenant) {
			log_err("cannot map the tenant's counters");
			return 2;
		}
	}
	(void)close(stats_fd);
	if (tenant_fd >= 0)
		(void)close(tenant_fd);
	dock_http = &dock_http_curl;	/* get, get-many: libcurl, here only */
	err = relay_run(&cfg);
	log_err("relay failed: %s", strerror(-err));
	return 1;
}
