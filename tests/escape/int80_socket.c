/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/int80_socket.c - i386 socketcall through int 0x80: a foreign
 * architecture that the filter must kill (SIGSYS) before any rule applies */
#include "escape.h"
int main(void)
{
	long ret, args[3] = { 2 /* AF_INET */, 3 /* SOCK_RAW */, 1 };

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(102 /* socketcall */), "b"(1 /* SYS_SOCKET */),
			 "c"(args) : "memory");
	printf("ESCAPED: int 0x80 socketcall returned %ld\n", ret);
	return 1;
}
