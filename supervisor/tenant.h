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
 * @claim:	the claim number it carries while it is ours
 * @name:	the tenant's name (the file's name; nothing in the mapping
 *		names anything, see common/audit.h)
 */
struct tenant_attachment {
	int fd;
	struct tenant_state *state;
	int slot;
	uint64_t claim;
	char name[64];
};

int tenant_attach(const char *tenant, struct tenant_attachment *ret);
void tenant_detach(struct tenant_attachment *a);
void tenant_gc(void);

#endif /* NBJ_SUPERVISOR_TENANT_H */
