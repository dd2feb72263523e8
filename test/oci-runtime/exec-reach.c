/* The container's side of test/oci-runtime/exec-reach.test.ts: for argv[1] seconds, scans /proc
 * and opens /proc/PID/root/etc/os-release of every process, a file the test's rootfs does not
 * have: a process whose root is the host's gives it. Prints "reached PID COMM" for the first
 * few and "hits N" at the end. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 10);
	int hits = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("watching\n");
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		for (struct dirent *e; d && (e = readdir(d));) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			char path[128], comm[64] = "";
			snprintf(path, sizeof path, "/proc/%.20s/root/etc/os-release", e->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			close(fd);
			snprintf(path, sizeof path, "/proc/%.20s/comm", e->d_name);
			FILE *f = fopen(path, "r");
			if (f && !fgets(comm, sizeof comm, f))
				comm[0] = '\0';
			if (f)
				fclose(f);
			if (hits++ < 5)
				printf("reached %s %s", e->d_name, comm);
		}
		if (d)
			closedir(d);
	}
	printf("hits %d\n", hits);
	return 0;
}
