/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/nft.h - nftables rulesets, one atomic batch per change
 */
#ifndef NBJ_NETNS_NFT_H
#define NBJ_NETNS_NFT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NFT_TABLE_NAME "nbjail"
#define NFT_JOB_CHAIN_PREFIX "job_"
#define HOST_IFNAME_PREFIX "nbh"

/**
 * struct nft_host_job - host-side parameters of one job
 * @job_id:		job identifier (hex), names the chain "job_<id>"
 * @host_ifname:	host end of the veth, "nbh<id>"
 * @relay_tcp_port:	relay TCP port, host byte order
 * @relay_dns_port:	relay DNS (UDP) port, host byte order
 */
struct nft_host_job {
	const char *job_id;
	const char *host_ifname;
	uint16_t relay_tcp_port;
	uint16_t relay_dns_port;
};

int nft_host_add_job(const struct nft_host_job *job);
int nft_host_del_job(const char *job_id);
int nft_host_del_table(void);
int nft_host_list_jobs(void (*cb)(const char *job_id, void *data), void *data);

/**
 * struct nft_guest - job-side parameters
 * @ifname:	the job's veth end, "eth0"
 * @publish_ports: TCP ports of the job the relay may connect to
 *		(`publish:`)
 * @n_publish_ports: their number
 * @n_select_overlays: overlays a subtree may select (0: no selection);
 *		their marks become source port ranges
 */
struct nft_guest {
	const char *ifname;
	const uint16_t *publish_ports;
	size_t n_publish_ports;
	size_t n_select_overlays;
};

int nft_guest_install(const struct nft_guest *g);

#endif /* NBJ_NETNS_NFT_H */
