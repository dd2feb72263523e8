/* notify.h — seccomp user notification: syscalls the filter returns USER_NOTIF for stop until
 * the launcher (outside the sandbox) answers. The launcher runs the plan's responder program
 * (OP_SECCOMP_NOTIFY) on each one, answers "continue" or an errno, and reports the syscall as
 * an event, so the monitor sees every notified call and every denial it attributes.
 *
 * The listener fd is born in the command process, which must not make an unanswered syscall
 * once its filter is in place (any syscall may be notified). So it never sends the listener:
 * before installing the filter it sends the launcher a pidfd of itself and the fd number the
 * listener will get (the lowest free one), and the launcher takes the fd with pidfd_getfd.
 * The command then waits for the launcher's ack before it goes on to execve, which closes its
 * own copy of the listener (close-on-exec) so the sandboxed program can never answer itself.
 *
 * Responder return values (our own encoding, not seccomp's):
 *   bits 31-30 kind: 1 continue, 2 deny with the errno in bits 11-0 (anything else: EPERM);
 *              for continue in record mode, bits 3-0 are the outcome checks (outcome.h)
 *   bits 29-24 record key: which arguments (bit i = argument i) make a call new
 *   bit  23    record: report a call only when its record (arch, nr, key arguments, paths,
 *              struct, outcome) is new, and never drop that report (learn and audit modes)
 *   bits 22-20 the argument (1-6) pointing to a struct to report (up to 128 bytes, its length
 *              in the following argument): a sockaddr, clone_args, open_how
 *   bit  19    also stat the path inside the sandbox and report its ctime
 *   bits 18-16 the argument (1-6) that points to a path to report, 0 for none
 *   bits 15-13 a second path argument (rename, link)
 *   bit  12    the argument before each path is its directory fd (the *at calls); recorded
 *              relative paths are made absolute against it or the caller's cwd */
#ifndef CORDON_NOTIFY_H
#define CORDON_NOTIFY_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_KIND_CONTINUE 1u
#define NOTIFY_KIND_DENY 2u
#define NOTIFY_ARCHES 4
#define NOTIFY_MAX_NR 1024
#define NOTIFY_STRUCT_MAX 128

/* Command side: installs prog with flags (which include SECCOMP_FILTER_FLAG_NEW_LISTENER)
 * after handing the launcher the means to take the listener over sock. Dies on failure.
 * trace (OP_SECCOMP_TRACE, trace.h): the launcher first tries to become this process's tracer
 * and says whether it did; when it did not, the filter's RET_TRACE outcomes become
 * RET_USER_NOTIF before it is installed (without a tracer RET_TRACE fails calls with ENOSYS). */
void notify_install(int sock, const struct sock_fprog *prog, unsigned flags, int trace);

struct notifier {
	int sock; /* socketpair end to the command; -1 once done */
	int listener; /* -1 until taken */
	int failed; /* the listener could not be taken: the command was killed (not one that died) */
	int trace; /* the plan asks for RET_TRACE observation (OP_SECCOMP_TRACE) */
	int traced; /* ... and the launcher is the command's tracer (trace.h) */
	const uint8_t *responder;
	size_t responder_len; /* instructions */
	unsigned long handled, counted_at_last_report;
	/* record mode: hashes of the records already reported (open addressing, 0 = empty) */
	uint64_t *seen;
	size_t seen_cap, seen_len;
	struct {
		uint32_t arch;
		unsigned long count[NOTIFY_MAX_NR];
		unsigned long other;
	} arches[NOTIFY_ARCHES];
};

void notify_init(struct notifier *nf, int sock, const uint8_t *responder, size_t len);
/* The command's message arrived on nf->sock: take the listener, ack. */
void notify_on_sock(struct notifier *nf);
/* One notification is pending on nf->listener: answer it and report it. */
void notify_on_listener(struct notifier *nf);

/* How a call's answer goes back: a listener's ioctl, or a tracer's restart (trace.h). */
struct notify_answer {
	/* 0 when the task is no longer the one that made the call (pid reused); NULL: always is */
	int (*still_valid)(const void *ctx);
	void (*send)(const void *ctx, unsigned kind, int err);
	const void *ctx;
};
/* One stopped call, wherever it came from: runs the responder, reads what it names, answers
 * through answer and reports it. pid is in the launcher's pid namespace. */
void notify_handle(struct notifier *nf, pid_t pid, const struct seccomp_data *d,
		   const struct notify_answer *answer);
/* After the sandbox ended: reports the records still waiting for an outcome (outcome.h). */
void notify_report_leftovers(struct notifier *nf);
/* {"event":"syscall-counts","counts":{"ARCH:NR":N,...},"handled":N,"dropped":N} when anything
 * changed since the last report (or always when force). */
void notify_report_counts(struct notifier *nf, int force);

#endif
