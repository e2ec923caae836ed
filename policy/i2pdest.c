/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/i2pdest.c - I2P destinations: keys, public destinations, .b32.i2p
 *
 * Theory of operation: an I2P destination is a binary structure (public
 * encryption key 256 bytes, signing key 128 bytes, a certificate of one
 * type byte, a two-byte length and that many bytes) written in I2P's
 * base64 alphabet ("-" and "~" instead of "+" and "/").  A private key
 * blob, as SAM's DEST GENERATE hands out in PRIV=, starts with the public
 * destination.  The short address of a destination is the lower-case
 * base32 of the SHA-256 of its binary form, without padding, followed by
 * ".b32.i2p".  Pure functions, used by the supervisor (key files, the
 * address it prints) and by the relay (the address of a transient one).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <limits.h>
#include <ldns/sha2.h>

#include "policy/policy.h"

#define I2P_DEST_MIN 387	/* 256 + 128 + the certificate's 3-byte head */

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '~')
		return 63;
	return -1;
}

/**
 * i2p_b64_decode() - decode I2P's base64 ("-", "~"; "=" padding)
 * @in:		text
 * @out:	bytes
 * @outlen:	room in @out
 *
 * Return: number of bytes, -EINVAL for a character outside the alphabet
 * or a bad length, -ENOSPC when @out is too small
 */
ssize_t i2p_b64_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t len = strlen(in), n = 0;
	unsigned acc = 0;
	int bits = 0;

	while (len && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outlen)
				return -ENOSPC;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (ssize_t)n;
}

/**
 * i2p_dest_length() - length of the public destination at the start of
 * a destination or private key blob
 * @b:		binary destination or private keys
 * @len:	its length
 *
 * Return: the destination's length, or -EINVAL when @b is too short
 */
ssize_t i2p_dest_length(const unsigned char *b, size_t len)
{
	size_t dlen;

	if (len < I2P_DEST_MIN)
		return -EINVAL;
	dlen = I2P_DEST_MIN + ((size_t)b[385] << 8 | b[386]);
	return dlen <= len ? (ssize_t)dlen : -EINVAL;
}

/**
 * i2p_b32_address() - the .b32.i2p address of a destination
 * @b64:	destination or private key blob, I2P base64
 * @out:	the address, "<52 letters>.b32.i2p"
 * @outlen:	room in @out (I2P_B32_ADDR_MAX is enough)
 *
 * Return: 0, -EINVAL for something that is not a destination, -ENOSPC
 */
int i2p_b32_address(const char *b64, char *out, size_t outlen)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char bin[I2P_KEY_MAX], digest[32];
	unsigned acc = 0;
	ssize_t n, d;
	size_t o = 0;
	int bits = 0;

	n = i2p_b64_decode(b64, bin, sizeof(bin));
	if (n < 0)
		return (int)n;
	d = i2p_dest_length(bin, (size_t)n);
	if (d < 0)
		return (int)d;
	/* ldns's SHA-256, not OpenSSL's EVP: this is the one digest the
	 * supervisor makes, and EVP would link all of libcrypto's provider
	 * machinery into it (a quarter of its size, 1 ms of every start) */
	if (d > UINT_MAX || !ldns_sha256(bin, (unsigned)d, digest))
		return -EIO;
	if (outlen < I2P_B32_ADDR_MAX)
		return -ENOSPC;
	for (size_t i = 0; i < sizeof(digest); i++) {
		acc = (acc << 8 | digest[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alphabet[acc >> bits & 31];
		}
	}
	if (bits)
		out[o++] = alphabet[acc << (5 - bits) & 31];
	snprintf(out + o, outlen - o, ".b32.i2p");
	return 0;
}

/**
 * i2p_key_valid() - is @b64 a private key blob SAM can take as
 * DESTINATION= (a destination followed by its private keys)?
 * @b64:	the text, I2P base64
 *
 * Return: true if it decodes and is longer than its destination
 */
bool i2p_key_valid(const char *b64)
{
	unsigned char bin[I2P_KEY_MAX];
	ssize_t n = i2p_b64_decode(b64, bin, sizeof(bin)), d;

	if (n < 0 || strlen(b64) >= I2P_KEY_MAX)
		return false;
	d = i2p_dest_length(bin, (size_t)n);
	return d > 0 && n > d;
}

/**
 * i2p_sam_value() - the value of KEY= in a SAM reply line
 * @line:	the reply, e.g. "STREAM STATUS RESULT=OK"
 * @key:	e.g. "RESULT"
 * @out:	the value
 * @outlen:	room in @out
 *
 * Return: true if found and it fits
 */
bool i2p_sam_value(const char *line, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		size_t n;

		if ((p != line && p[-1] != ' ') || p[klen] != '=')
			continue;
		p += klen + 1;
		n = strcspn(p, " \r\n");
		if (n >= outlen)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}
