/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/sni.h - the server name of a TLS ClientHello
 */
#ifndef NBJ_RELAY_SNI_H
#define NBJ_RELAY_SNI_H

#include <stdbool.h>
#include <stddef.h>

#define SNI_PEEK_MAX 16384	/* bytes of the flow read, records included */
#define SNI_RECORDS_MAX 8	/* TLS records the ClientHello may span */
#define SNI_NAME_MAX 255	/* a host_name longer than this is refused */

/**
 * enum sni_verdict - what the first bytes of a flow are
 * @SNI_NEED_MORE:	the start of a TLS handshake: look again once
 *			sni_hello.need bytes are there
 * @SNI_NOT_TLS:	not a TLS record (plain HTTP, SSH, ...): not checked
 * @SNI_ONE:		one whole ClientHello with exactly one host_name
 * @SNI_MISSING:	one whole ClientHello without a server name
 * @SNI_BAD:		TLS, but not one well-formed, unambiguous ClientHello
 *			within the limits (sni_hello.why says what)
 */
enum sni_verdict {
	SNI_NEED_MORE,
	SNI_NOT_TLS,
	SNI_ONE,
	SNI_MISSING,
	SNI_BAD,
};

/**
 * struct sni_hello - the reading of a ClientHello
 * @verdict:	enum sni_verdict
 * @need:	SNI_NEED_MORE: bytes needed from the start of the flow
 * @why:	SNI_MISSING, SNI_BAD: a static phrase for the log
 * @name:	SNI_ONE: the host_name as sent, NUL-terminated
 */
struct sni_hello {
	enum sni_verdict verdict;
	size_t need;
	const char *why;
	char name[SNI_NAME_MAX + 1];
};

void tls_client_hello_read(const unsigned char *buf, size_t len,
			   struct sni_hello *ret);
bool sni_name_matches(const char *sni, const char *pinned);

#endif /* NBJ_RELAY_SNI_H */
