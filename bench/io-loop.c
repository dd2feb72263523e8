/* io-loop: sequential I/O for bench/backends.mjs. Writes MIB MiB to FILE in 1 MiB blocks,
 * fsyncs, reads it back, and prints MiB/s of the whole write + read. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long mib = atol(argv[2]);
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	for (long i = 0; i < mib; i++)
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			return 1;
	if (fsync(fd) != 0 || close(fd) != 0)
		return 1;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
	unlink(argv[1]);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.1f\n", 2.0 * mib / s);
	return 0;
}
