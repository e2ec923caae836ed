/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/relay_int.h - state shared by the relay's files
 *
 * loop.c owns the context and the event loop; tcp.c the flow table;
 * dns.c the DNS wire format.
 */
#ifndef NBJ_RELAY_INT_H
#define NBJ_RELAY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "relay/relay.h"

/* Event types, packed into the upper half of epoll_data.u64 */
enum relay_event {
	RELAY_EV_LISTEN = 1,	/* index: 0 IPv4, 1 IPv6 */
	RELAY_EV_DNS,		/* index: 0 IPv4, 1 IPv6 */
	RELAY_EV_TIMER,
	RELAY_EV_FLOW_JOB,	/* index: flow slot */
	RELAY_EV_FLOW_DIAL,	/* index: flow slot */
};

#define RELAY_EV(type, index) ((uint64_t)(type) << 32 | (uint32_t)(index))
#define RELAY_EV_TYPE(u64) ((enum relay_event)((u64) >> 32))
#define RELAY_EV_INDEX(u64) ((uint32_t)(u64))

#define FLOW_SIDE_JOB 0
#define FLOW_SIDE_DIAL 1

/**
 * struct flow_side - one socket of a flow and the data read from it
 * @fd:		socket
 * @pipe:	pipe holding bytes read from @fd, not yet written to the other
 *		side ([0] read end, [1] write end)
 * @pending:	bytes in @pipe
 * @eof:	@fd has reached end of input
 * @shut:	writing to @fd is shut down (the other side is done)
 * @events:	epoll events currently registered for @fd, or 0 if removed
 * @in_epoll:	@fd is registered in epoll
 */
struct flow_side {
	int fd;
	int pipe[2];
	size_t pending;
	bool eof;
	bool shut;
	uint32_t events;
	bool in_epoll;
};

/**
 * struct flow - one relayed TCP connection, a slot of the fixed table
 * @used:	slot in use
 * @connecting:	the dial is in progress
 * @next_free:	next free slot when unused
 * @deadline:	when a connecting dial is given up (CLOCK_MONOTONIC seconds)
 * @target:	original destination, for log lines
 * @side:	job side and dial side
 */
struct flow {
	bool used;
	bool connecting;
	uint32_t next_free;
	time_t deadline;
	struct nbj_addr target;
	struct flow_side side[2];
};

/**
 * struct relay_ctx - all mutable state of the relay process
 * @cfg:		configuration from the supervisor
 * @epfd:		epoll instance
 * @timerfd:		one-second tick for dial deadlines
 * @flows:		fixed flow table, @cfg->max_flows slots
 * @free_head:		first free slot, UINT32_MAX when full
 * @live:		flows in use
 * @dns_refused:	DNS queries answered REFUSED
 * @dns_malformed:	DNS packets dropped as malformed
 * @denied:		TCP connections denied
 * @dial_failed:	allowed connections whose dial failed
 * @full:		connections reset because the table was full
 */
struct relay_ctx {
	const struct relay_config *cfg;
	int epfd;
	int timerfd;
	struct flow *flows;
	uint32_t free_head;
	unsigned live;
	unsigned long dns_refused;
	unsigned long dns_malformed;
	unsigned long denied;
	unsigned long dial_failed;
	unsigned long full;
};

int flow_table_init(struct relay_ctx *c);
void tcp_accept(struct relay_ctx *c, int listen_fd);
void tcp_flow_event(struct relay_ctx *c, uint32_t slot, int side, uint32_t events);
void tcp_timer(struct relay_ctx *c);
void dns_handle(struct relay_ctx *c, int fd);

#endif /* NBJ_RELAY_INT_H */
