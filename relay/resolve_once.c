/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/resolve_once.c - one blocking lookup, as a relay would make it
 *
 * Theory of operation: `nbjail explain` must judge a name on the answers
 * a relay would get: the same c-ares configuration (the host's), the same
 * order (IPv6 first, resolve_collect(), which relay/resolve.c uses too).
 * resolve_blocking() makes one lookup on a private channel and waits for
 * it with select().  In a file of its own so that the supervisor, which
 * calls it, does not link the relay's event loop (and with it ldns and
 * OpenSSL): every library a program links costs its start-up.
 */
#include <sys/select.h>

#include "relay/relay_int.h"

/**
 * resolve_collect() - the answers of a c-ares addrinfo result, IPv6 first
 * @res:	the result, may be NULL
 * @answers:	RESOLVE_ANSWERS_MAX entries
 *
 * Return: their number
 */
size_t resolve_collect(const struct ares_addrinfo *res, struct nbj_addr *answers)
{
	size_t n = 0;

	for (int pass = 0; res && pass < 2; pass++) {
		for (struct ares_addrinfo_node *a = res->nodes; a; a = a->ai_next) {
			if ((pass == 0) != (a->ai_family == AF_INET6))
				continue;
			if (n < RESOLVE_ANSWERS_MAX &&
			    nbj_addr_from_sockaddr(a->ai_addr, (socklen_t)a->ai_addrlen,
						   &answers[n]) == 0)
				n++;
		}
	}
	return n;
}

struct blocking_result {
	struct nbj_addr *answers;
	size_t n;
	int status;
};

static void blocking_done(void *arg, int status, int timeouts,
			  struct ares_addrinfo *res)
{
	struct blocking_result *r = arg;

	(void)timeouts;
	r->status = status;
	r->n = resolve_collect(res, r->answers);
	if (res)
		ares_freeaddrinfo(res);
}

/**
 * resolve_blocking() - every address of @name, waiting for the answer
 * @name:	normalized host name
 * @answers:	RESOLVE_ANSWERS_MAX entries, IPv6 first
 * @ret_n:	their number
 *
 * For `nbjail explain`: the same resolver configuration and the same
 * answer order as a relay's lookups, on a private channel.
 *
 * Return: the c-ares status (ARES_SUCCESS, ARES_ENOTFOUND, ...)
 */
int resolve_blocking(const char *name, struct nbj_addr *answers, size_t *ret_n)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC };
	struct blocking_result r = { .answers = answers, .status = -1 };
	struct ares_options opts = { .timeout = 2000, .tries = 2 };
	ares_channel ch;
	int status;

	status = ares_library_init(ARES_LIB_INIT_ALL);
	if (status == ARES_SUCCESS)
		status = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (status != ARES_SUCCESS)
		return status;
	ares_getaddrinfo(ch, name, NULL, &hints, blocking_done, &r);
	while (r.status < 0) {
		struct timeval tv, *tvp;
		fd_set rfds, wfds;
		int nfds;

		FD_ZERO(&rfds);
		FD_ZERO(&wfds);
		nfds = ares_fds(ch, &rfds, &wfds);
		if (!nfds)
			break;
		tvp = ares_timeout(ch, NULL, &tv);
		(void)select(nfds, &rfds, &wfds, NULL, tvp);
		ares_process(ch, &rfds, &wfds);
	}
	ares_destroy(ch);
	*ret_n = r.n;
	return r.status < 0 ? ARES_ETIMEOUT : r.status;
}
