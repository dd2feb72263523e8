/* filter-load: what installing a seccomp filter costs at a sandbox's start, for
 * bench/seccomp.mjs. For each round and each FILE (a raw cBPF program), a fresh child sets
 * no_new_privs and times seccomp(SECCOMP_SET_MODE_FILTER) alone: the kernel copies, checks,
 * converts, JIT-compiles and maps the program, which a launcher pays once per sandbox.
 * Prints one line per FILE: the microseconds of every round, space-separated.
 *   filter-load ROUNDS FILE... */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_INSNS 4096
#define MAX_FILES 8
#define MAX_ROUNDS 10000

static struct sock_filter programs[MAX_FILES][MAX_INSNS];
static unsigned short lengths[MAX_FILES];
static double samples[MAX_FILES][MAX_ROUNDS];

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* One install in a child of its own (a filter cannot be removed); its time comes back on a
 * pipe, or a negative number when the kernel refused the program. */
static double install_once(int file)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t child = fork();
	if (child == 0) {
		struct sock_fprog prog = { .len = lengths[file], .filter = programs[file] };
		double t = -1;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
			double start = now_us();
			if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
				t = now_us() - start;
		}
		_exit(write(p[1], &t, sizeof t) == sizeof t ? 0 : 1);
	}
	double t = -1;
	if (child > 0 && read(p[0], &t, sizeof t) != sizeof t)
		t = -1;
	close(p[0]);
	close(p[1]);
	if (child > 0)
		waitpid(child, NULL, 0);
	return t;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 0;
	int files = argc - 2;
	if (rounds < 1 || rounds > MAX_ROUNDS || files < 1 || files > MAX_FILES) {
		fprintf(stderr, "usage: filter-load ROUNDS(1-%d) FILE... (at most %d)\n",
			MAX_ROUNDS, MAX_FILES);
		return 2;
	}
	for (int f = 0; f < files; f++) {
		FILE *in = fopen(argv[f + 2], "rb");
		if (!in) {
			perror(argv[f + 2]);
			return 1;
		}
		size_t n = fread(programs[f], sizeof programs[f][0], MAX_INSNS, in);
		fclose(in);
		if (n == 0) {
			fprintf(stderr, "%s: no instructions\n", argv[f + 2]);
			return 1;
		}
		lengths[f] = (unsigned short)n;
	}
	/* Interleaved, so that drift and the other vCPU's load hit every program alike. */
	for (int r = 0; r < rounds; r++)
		for (int f = 0; f < files; f++) {
			samples[f][r] = install_once(f);
			if (samples[f][r] < 0) {
				fprintf(stderr, "%s: the kernel refused the program\n",
					argv[f + 2]);
				return 1;
			}
		}
	for (int f = 0; f < files; f++)
		for (int r = 0; r < rounds; r++)
			printf("%.1f%c", samples[f][r], r + 1 < rounds ? ' ' : '\n');
	return 0;
}
