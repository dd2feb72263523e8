/* sysprobe: makes one raw syscall and prints the result, for the seccomp kernel tests.
 *   sysprobe native|x32|i386 NR [ARG...]
 * i386 enters through int 0x80 (the 32-bit table); x32 sets __X32_SYSCALL_BIT. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long nr = strtol(argv[2], NULL, 0);
	unsigned long a[6] = { 0 };
	for (int i = 3; i < argc && i < 9; i++)
		a[i - 3] = strtoul(argv[i], NULL, 0);
	long r = -1;
	if (strcmp(argv[1], "native") == 0) {
		r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	} else if (strcmp(argv[1], "x32") == 0) {
		r = syscall(nr | 0x40000000L, a[0], a[1], a[2], a[3], a[4], a[5]);
	} else if (strcmp(argv[1], "i386") == 0) {
#if defined(__x86_64__)
		long ret;
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]) : "memory");
		if (ret < 0 && ret > -4096) {
			errno = (int)-ret;
			r = -1;
		} else {
			r = ret;
		}
#else
		return 3;
#endif
	}
	printf("ret=%ld errno=%s\n", r, r == -1 ? strerrorname_np(errno) : "0");
	return 0;
}
