/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/tenant.h - what the jobs of one tenant share, see tenant.c
 */
#ifndef NBJ_SUPERVISOR_TENANT_H
#define NBJ_SUPERVISOR_TENANT_H

#include "common/audit.h"

/**
 * struct tenant_attachment - one job's hold on its tenant's state
 * @fd:		the tenant file, shared-locked
 * @state:	its mapping
 * @slot:	the job's slot
 */
struct tenant_attachment {
	int fd;
	struct tenant_state *state;
	int slot;
	char name[64];	/* ours: the mapping's copy is the relay's to write */
};

int tenant_attach(const char *tenant, const char *job_id,
		  struct tenant_attachment *ret);
void tenant_detach(struct tenant_attachment *a);
void tenant_gc(void);

#endif /* NBJ_SUPERVISOR_TENANT_H */
