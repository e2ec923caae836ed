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
 * @len:	SNI_ONE: bytes of the records that hold the hello
 * @name:	SNI_ONE: the host_name as sent, NUL-terminated
 */
struct sni_hello {
	enum sni_verdict verdict;
	size_t need;
	const char *why;
	size_t len;
	char name[SNI_NAME_MAX + 1];
};

/**
 * enum sni_server_reply - the server's first record after a ClientHello
 * @SNI_REPLY_NEED_MORE:	too few bytes to tell (need *@need)
 * @SNI_REPLY_HRR:		a HelloRetryRequest: a second ClientHello follows
 * @SNI_REPLY_OTHER:		anything else (ServerHello, alert, not TLS)
 * @SNI_REPLY_BAD:		a handshake record too short to tell
 */
enum sni_server_reply {
	SNI_REPLY_NEED_MORE,
	SNI_REPLY_HRR,
	SNI_REPLY_OTHER,
	SNI_REPLY_BAD,
};

#define SNI_REPLY_PEEK 43	/* record header, handshake header, version, random */
#define TLS_CCS_RECORD_LEN 6	/* change_cipher_spec record of one byte */

enum sni_server_reply tls_server_reply_read(const unsigned char *buf, size_t len,
					    size_t *need);
bool tls_is_ccs_record(const unsigned char *buf, size_t len);
void tls_client_hello_read(const unsigned char *buf, size_t len,
			   struct sni_hello *ret);
bool sni_name_matches(const char *sni, const char *pinned);

#endif /* NBJ_RELAY_SNI_H */
