/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/sni.h - the server name of a TLS ClientHello
 */
#ifndef NBJ_RELAY_SNI_H
#define NBJ_RELAY_SNI_H

#include <stddef.h>

#define SNI_PEEK_MAX 16384

int tls_client_hello_sni(const unsigned char *buf, size_t len, char *sni,
			 size_t snilen);

#endif /* NBJ_RELAY_SNI_H */
