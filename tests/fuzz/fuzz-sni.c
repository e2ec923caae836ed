/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-sni.c - libFuzzer target for tls_client_hello_read()
 *
 * The input is the first bytes of a flow, as the relay peeks them.
 * Besides what the sanitizers catch (reads past the input, overflows of
 * the reassembly buffer), it checks the reader's promises:
 *
 *   - the verdict is one of enum sni_verdict;
 *   - SNI_NEED_MORE asks for more bytes than there are, at most
 *     SNI_PEEK_MAX (the relay sets SO_RCVLOWAT to it);
 *   - SNI_ONE returns a name of 1 to SNI_NAME_MAX bytes without NUL;
 *   - SNI_MISSING and SNI_BAD say why;
 *   - a prefix of the input is either undecided (SNI_NEED_MORE) or
 *     decided the same way: bytes that come later never change a verdict,
 *     and the relay may judge as soon as it can;
 *   - tls_server_reply_read() (the same input as a server's first record)
 *     asks for at most SNI_REPLY_PEEK bytes, more than it has.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/sni.h"

static void check(const uint8_t *data, size_t size, struct sni_hello *h)
{
	tls_client_hello_read(data, size, h);
	if (h->verdict > SNI_BAD)
		abort();
	if (h->verdict == SNI_NEED_MORE && (h->need <= size || h->need > SNI_PEEK_MAX))
		abort();
	if (h->verdict == SNI_ONE) {
		size_t n = strnlen(h->name, sizeof(h->name));

		if (!n || n > SNI_NAME_MAX)
			abort();
	}
	if ((h->verdict == SNI_MISSING || h->verdict == SNI_BAD) && !h->why)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_hello full, part;
	size_t cuts[3] = { size / 2, size ? size - 1 : 0, 5 };
	size_t need;

	if (tls_server_reply_read(data, size, &need) == SNI_REPLY_NEED_MORE &&
	    (need <= size || need > SNI_REPLY_PEEK))
		abort();

	check(data, size, &full);
	for (size_t i = 0; i < 3; i++) {
		if (cuts[i] >= size)
			continue;
		check(data, cuts[i], &part);
		if (part.verdict == SNI_NEED_MORE)
			continue;
		if (part.verdict != full.verdict)
			abort();
		if (part.verdict == SNI_ONE && strcmp(part.name, full.name))
			abort();
	}
	return 0;
}
