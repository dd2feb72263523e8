/* Counts the SIGINTs it gets for argv[1] seconds while it keeps the user's pending-signal count
 * at its limit (a blocked real-time signal queued to itself until refused), then prints
 * "total N": test/oci-runtime/run-helper.test.ts. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_int(int sig)
{
	(void)sig;
	got++;
}

static void fill(int sig)
{
	union sigval v = { 0 };
	while (sigqueue(getpid(), sig, v) == 0)
		;
}

int main(int argc, char **argv)
{
	int filler = SIGRTMIN + 6;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, filler);
	sigprocmask(SIG_BLOCK, &m, NULL);
	fill(filler);
	signal(SIGINT, on_int);
	puts("ready");
	fflush(stdout);
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 3);
	while (time(NULL) < end) {
		fill(filler); /* what others took back meanwhile */
		usleep(20000);
	}
	printf("total %d\n", (int)got);
	return 0;
}
