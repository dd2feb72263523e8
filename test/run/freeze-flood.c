/* A sandboxed program that fights a freeze without a cgroup (test/run/freeze-flood.test.ts):
 * FLOODERS processes queue forged freeze signals (62, native/command.h) to the sandbox's init
 * as fast as they can, and one line of processes forks and exits (each generation a new pid,
 * SIGCONT to the rest now and then), printing "alive N" each second N of its life. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int crowd = argc > 1 ? atoi(argv[1]) : 300, flooders = argc > 2 ? atoi(argv[2]) : 8;
	signal(SIGCHLD, SIG_IGN);
	for (int i = 0; i < crowd; i++)
		if (fork() == 0)
			for (;;)
				pause();
	for (int i = 0; i < flooders; i++)
		if (fork() == 0)
			for (;;)
				kill(1, 62);
	double start = now();
	if (fork() > 0)
		for (;;)
			pause();
	long last = -1, n = 0;
	for (;;) {
		if (fork() > 0)
			_exit(0);
		if (++n % 64 == 0)
			kill(-1, SIGCONT);
		long t = (long)(now() - start);
		if (t != last) {
			char line[32];
			int len = snprintf(line, sizeof line, "alive %ld\n", t);
			last = t;
			if (write(1, line, (size_t)len) < 0)
				return 1;
		}
	}
}
