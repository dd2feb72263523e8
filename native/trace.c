/* trace.c — see trace.h. */
#define _GNU_SOURCE
#include "trace.h"

#include "console.h"
#include "stdio-relay.h"
#include "events.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

int trace_seize(pid_t pid)
{
	/* No TRACEEXEC: a seized tracee gets no SIGTRAP on exec, and nothing here needs the stop. */
	long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		    PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;
	return ptrace(PTRACE_SEIZE, pid, 0, (void *)opts) ? errno : 0;
}

static void trace_send(const void *ctx, unsigned kind, int err)
{
	/* The filter returns TRACE only for calls that go on, and the responder makes the same
	 * decisions: a refusal here would be a compiler bug, and the filter, which the kernel runs
	 * again after this stop, stays the enforcement. Nothing to send: the restart is the answer. */
	(void)ctx, (void)kind, (void)err;
}

static void on_seccomp_stop(struct notifier *nf, pid_t pid)
{
	static int warned;
	struct __ptrace_syscall_info info;
	memset(&info, 0, sizeof info);
	long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info);
	if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) {
		/* Before 5.3 there is no arch-independent way to read the call: it goes on unreported. */
		if (!warned++)
			ev_warning(
				"seccomp trace",
				"PTRACE_GET_SYSCALL_INFO failed (Linux 5.3+): calls go unreported");
		return;
	}
	struct seccomp_data d;
	memset(&d, 0, sizeof d);
	d.nr = (int)info.seccomp.nr;
	d.arch = info.arch;
	d.instruction_pointer = info.instruction_pointer;
	for (int i = 0; i < 6; i++)
		d.args[i] = info.seccomp.args[i];
	/* The task is stopped until we restart it: its memory is its own while we read it. */
	struct notify_answer answer = { .still_valid = NULL, .send = trace_send, .ctx = NULL };
	notify_handle(nf, pid, &d, &answer);
}

/* Whether a seccomp stop is a filter of the program's own returning SECCOMP_RET_TRACE (its
 * data is not cordon's), which the tracer must not take for its own. */
static int own_filter_stop(pid_t pid)
{
	unsigned long data = CORDON_TRACE_DATA;
	return ptrace(PTRACE_GETEVENTMSG, pid, 0, &data) == 0 && data != CORDON_TRACE_DATA;
}

/* The call a program's own filter sent to a tracer, as unobserved, where no tracer is attached:
 * skipped, failing with ENOSYS (x86_64 enters every call with -ENOSYS as its result, so a
 * syscall number of -1 is all it takes). Elsewhere it goes on, as before (README). */
static void skip_without_tracer(pid_t pid)
{
#if defined(__x86_64__)
	ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user_regs_struct, orig_rax),
	       (void *)-1L);
#else
	(void)pid;
#endif
}

static int stopping_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Restarts a stopped tracee as if nothing had watched it. A failed restart means it is gone
 * (SIGKILL), which its exit status says in turn. */
static void on_stop(struct notifier *nf, pid_t pid, int status)
{
	int sig = WSTOPSIG(status);
	unsigned event = (unsigned)status >> 16;
	switch (event) {
	case PTRACE_EVENT_SECCOMP:
		if (own_filter_stop(pid))
			skip_without_tracer(pid);
		else
			on_seccomp_stop(nf, pid);
		ptrace(PTRACE_CONT, pid, 0, 0);
		break;
	case PTRACE_EVENT_STOP:
		/* A group-stop (the stopping signal) stays a stop, which SIGCONT ends and the real
		 * parent sees; SIGTRAP is a new child's first stop (or a re-trap after SIGCONT). */
		if (stopping_signal(sig))
			ptrace(PTRACE_LISTEN, pid, 0, 0);
		else
			ptrace(PTRACE_CONT, pid, 0, 0);
		break;
	case 0: /* signal-delivery-stop: deliver it */
		ptrace(PTRACE_CONT, pid, 0, (void *)(uintptr_t)sig);
		break;
	default: /* fork, vfork, clone, vfork-done: the new task is traced already */
		ptrace(PTRACE_CONT, pid, 0, 0);
		break;
	}
}

int trace_reap(struct notifier *nf, pid_t child, int *status)
{
	int ended = 0;
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ended;
		if (WIFSTOPPED(st)) {
			on_stop(nf, w, st);
		} else if (w == child) {
			*status = st;
			ended = 1;
		} else {
			/* A tracee that ended: reaping it here hands it to its real parent (init). Or
			 * the console's relay, the launcher's other child. */
			console_reaped(w);
			stdin_relay_reaped(w);
			output_relay_reaped(w, st);
		}
	}
}
