/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/nft.h - the job's nftables ruleset, one atomic batch
 */
#ifndef NBJ_NETNS_NFT_H
#define NBJ_NETNS_NFT_H

#include <stddef.h>
#include <stdint.h>

#define NFT_TABLE_NAME "nbjail"

/**
 * struct nft_job - what the job's ruleset needs
 * @relay_tcp_port:	the relay's listening port in the job's netns
 * @relay_dns_port:	the relay's DNS (UDP) port there
 * @n_select_overlays:	overlays a subtree may select (0: no selection);
 *			their marks become source port ranges
 */
struct nft_job {
	uint16_t relay_tcp_port;
	uint16_t relay_dns_port;
	size_t n_select_overlays;
};

int nft_job_install(const struct nft_job *g);

#endif /* NBJ_NETNS_NFT_H */
