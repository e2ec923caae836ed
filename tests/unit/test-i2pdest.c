/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-i2pdest.c - I2P base64, destinations and .b32.i2p
 * addresses (policy/i2pdest.c); the vector was computed independently
 * with Python's base64 and hashlib */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

/* 256 bytes 0..255, a 128-byte signing key of zeros, a key certificate
 * (type 5, length 4: Ed25519, ElGamal), then 32 bytes of private key */
static const char key[] =
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-"
	"P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9"
	"fn-AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8"
	"vb6~wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t~g4eLj5OXm5-jp6uvs7e7v8PHy8~T19vf4-fr7"
	"~P3-~wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAABQAEAAcABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static void test_b32_of_private_keys(void **state)
{
	char addr[I2P_B32_ADDR_MAX];

	(void)state;
	assert_int_equal(i2p_b32_address(key, addr, sizeof(addr)), 0);
	assert_string_equal(addr, "jy5i5aczuwihdid6ykrxz4q22zjevxuccsszl4zc2kqcpkoamsqq.b32.i2p");
	assert_true(i2p_key_valid(key));
}

static void test_decode(void **state)
{
	unsigned char out[8];

	(void)state;
	assert_int_equal(i2p_b64_decode("-~-~", out, sizeof(out)), 3);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xbf);
	assert_int_equal(i2p_b64_decode("ab+/", out, sizeof(out)), -EINVAL); /* not I2P's */
	assert_int_equal(i2p_b64_decode("a", out, sizeof(out)), -EINVAL);
	assert_int_equal(i2p_b64_decode("AAAAAAAAAAAAAAAA", out, sizeof(out)), -ENOSPC);
}

static void test_not_keys(void **state)
{
	char addr[I2P_B32_ADDR_MAX], cut[600];

	(void)state;
	/* the destination alone (no private keys) is not a key */
	memcpy(cut, key, 522); /* 391 bytes: the destination */
	cut[522] = '\0';
	assert_false(i2p_key_valid(cut));
	assert_int_equal(i2p_b32_address(cut, addr, sizeof(addr)), 0);
	/* shorter than a destination */
	cut[100] = '\0';
	assert_false(i2p_key_valid(cut));
	assert_int_equal(i2p_b32_address(cut, addr, sizeof(addr)), -EINVAL);
	assert_false(i2p_key_valid("not base64!"));
	assert_int_equal(i2p_b32_address(key, addr, 20), -ENOSPC);
}

static void test_sam_value(void **state)
{
	char v[16];

	(void)state;
	assert_true(i2p_sam_value("STREAM STATUS RESULT=OK", "RESULT", v, sizeof(v)));
	assert_string_equal(v, "OK");
	assert_true(i2p_sam_value("HELLO REPLY RESULT=OK VERSION=3.1\r", "VERSION", v, sizeof(v)));
	assert_string_equal(v, "3.1");
	/* a key inside another key or value is not the key */
	assert_false(i2p_sam_value("X NORESULT=OK MESSAGE=RESULT=x", "RESULT", v, sizeof(v)));
	assert_false(i2p_sam_value("SESSION STATUS RESULT=OK", "DESTINATION", v, sizeof(v)));
	assert_false(i2p_sam_value("A RESULT=0123456789abcdefXYZ", "RESULT", v, sizeof(v)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sam_value),
		cmocka_unit_test(test_b32_of_private_keys),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_not_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
