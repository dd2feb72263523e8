/* storm: load for the monitor tests and bench/monitor.
 *   storm fork        fork and reap children for ever; prints "I SECONDS.NANOS" after each
 *   storm bomb P      P processes forking for ever without waiting (children end at once and
 *                     the kernel reaps them): a fork bomb held to a steady size
 *   storm grow        every process forks for ever and none ends: the classic fork bomb, held
 *                     only by the pids limit
 *   storm hold N      N-1 children that sleep, a pause for their creation to leave the monitor's
 *                     one-second window, then as storm fork
 *   storm threads N   N-1 threads that sleep, then the process exits under them (exit_group)
 *   storm siblings N PROG [ARG...]
 *                     N children made by clone(CLONE_PARENT), each running PROG: its parent's
 *                     children, not its own; waits a second for them to start
 *   storm leader-exit N PROG [ARG...]
 *                     the first thread ends (exit, not exit_group); a second one runs N children
 *                     running PROG, waits for them and ends the process with status 3
 *   storm thread-exec PROG [ARG...]
 *                     a second thread runs PROG by execve, which ends the first one
 *   storm exec-dies N PROG
 *                     N children, each a second thread running PROG by execve under a 64 MiB
 *                     address space PROG does not fit: the exec fails past its point of no
 *                     return and the process dies of SIGSEGV; prints "died D of N"
 *   storm crash-sibling
 *                     a child made by clone(CLONE_PARENT) dies of SIGSEGV 200 ms later without
 *                     exec'ing: the connector names its creator's parent as its parent
 *   storm crash-after-exec PROG [ARG...]
 *                     a forked child dies of SIGSEGV 300 ms later, after its parent ran PROG
 *   storm loop N      N raw getppid calls; prints "done N NS_PER_CALL"
 *   storm escape N    N raw unshare(CLONE_NEWUSER) calls (refused by the default filter, each
 *                     an escape-attempt match); prints "done N" */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static void *sleeper(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

static char **worker_argv;
static int worker_children = -1; /* leader-exit: children to run; -1 thread-exec */

static void *worker(void *unused)
{
	(void)unused;
	usleep(100000); /* the first thread is gone by now */
	if (worker_children < 0) {
		execv(worker_argv[0], worker_argv);
		_exit(127);
	}
	for (int i = 0; i < worker_children; i++)
		if (fork() == 0) {
			execv(worker_argv[0], worker_argv);
			_exit(127);
		}
	while (wait(NULL) > 0)
		;
	exit(3);
}

static void *exec_small(void *prog)
{
	struct rlimit r = { 64 << 20, 64 << 20 };
	setrlimit(RLIMIT_AS, &r);
	execl((char *)prog, (char *)prog, (char *)NULL);
	_exit(127);
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "grow") == 0)
		for (;;)
			fork();
	if (argc >= 3 && strcmp(argv[1], "hold") == 0) {
		for (int i = 1; i < atoi(argv[2]); i++)
			if (fork() == 0)
				for (;;)
					pause();
		sleep(2);
		argv[1] = "fork";
	}
	if (argc >= 2 && strcmp(argv[1], "fork") == 0) {
		for (long i = 0;; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			if (p > 0)
				waitpid(p, NULL, 0);
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			printf("%ld %ld.%09ld\n", i, (long)t.tv_sec, t.tv_nsec);
			fflush(stdout);
		}
	}
	if (argc >= 3 && strcmp(argv[1], "bomb") == 0) {
		signal(SIGCHLD, SIG_IGN);
		for (int i = 1; i < atoi(argv[2]); i++)
			if (fork() == 0)
				break;
		for (;;)
			if (fork() == 0)
				_exit(0);
	}
	if (argc >= 3 && strcmp(argv[1], "threads") == 0) {
		for (int i = 1; i < atoi(argv[2]); i++) {
			pthread_t t;
			pthread_create(&t, NULL, sleeper, NULL);
		}
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "siblings") == 0) {
		for (int i = 0; i < atoi(argv[2]); i++)
			if (syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0) == 0) {
				execv(argv[3], argv + 3);
				_exit(127);
			}
		sleep(1);
		return 0;
	}
	if ((argc >= 4 && strcmp(argv[1], "leader-exit") == 0) ||
	    (argc >= 3 && strcmp(argv[1], "thread-exec") == 0)) {
		int leader_exit = strcmp(argv[1], "leader-exit") == 0;
		worker_children = leader_exit ? atoi(argv[2]) : -1;
		worker_argv = argv + (leader_exit ? 3 : 2);
		pthread_t t;
		pthread_create(&t, NULL, worker, NULL);
		if (leader_exit)
			syscall(SYS_exit, 0);
		for (;;)
			pause();
	}
	if (argc >= 4 && strcmp(argv[1], "exec-dies") == 0) {
		int n = atoi(argv[2]), died = 0;
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				pthread_t t;
				pthread_create(&t, NULL, exec_small, argv[3]);
				for (;;)
					pause();
			}
			int st;
			if (p > 0 && waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
				died++;
		}
		printf("died %d of %d\n", died, n);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "crash-sibling") == 0) {
		if (syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0) == 0) {
			usleep(200000);
			raise(SIGSEGV);
		}
		sleep(1);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "crash-after-exec") == 0) {
		if (fork() == 0) {
			usleep(300000);
			raise(SIGSEGV);
		}
		execv(argv[2], argv + 2);
		return 127;
	}
	if (argc >= 3 && strcmp(argv[1], "loop") == 0) {
		long n = atol(argv[2]);
		double a = now_ns();
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		printf("done %ld %.1f\n", n, (now_ns() - a) / (double)n);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "escape") == 0) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++)
			syscall(SYS_unshare, CLONE_NEWUSER);
		printf("done %ld\n", n);
		return 0;
	}
	fprintf(stderr, "usage: storm fork | storm grow | storm hold N | storm bomb P | storm threads N | "
			"storm siblings N PROG [ARG...] | storm leader-exit N PROG [ARG...] | "
			"storm thread-exec PROG [ARG...] | storm exec-dies N PROG | storm crash-sibling | "
			"storm crash-after-exec PROG [ARG...] | storm loop N | "
			"storm escape N\n");
	return 2;
}
