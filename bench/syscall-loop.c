/* syscall-loop: a syscall-heavy loop for bench/seccomp.mjs. Prints nanoseconds per iteration
 * of { getppid; read 1 byte of /dev/zero; openat /dev/null + close }. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int zero = open("/dev/zero", O_RDONLY);
	char byte;
	struct timespec a, b;
	if (zero < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		syscall(SYS_getppid);
		if (read(zero, &byte, 1) != 1)
			return 1;
		int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY);
		if (fd < 0)
			return 1;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
