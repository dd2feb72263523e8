/* cordon's process starter for Node (spawn.ts, launcher-process.ts): starts the launcher by
 * posix_spawn, which glibc makes a vfork-style clone that shares this process's memory until
 * the exec, where child_process forks Node's whole address space (its page tables copied, every
 * page it then writes faulted once). The child is held by a pidfd: waited for and signalled by
 * it, so a pid reaped and reused is never hit, and libuv never sees it (it waits for its own
 * pids only). Calls return a negative errno where they can fail; JavaScript names it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forward-signal.h"
#include "host-reads.h"
#include "napi.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* The child's fds are at most stdin, stdout, stderr and the launcher's channel, and a few more
 * for callers that pass their own. */
#define MAX_FDS 16

static napi_value int_value(napi_env env, int32_t n)
{
	napi_value v = NULL;
	napi_create_int32(env, n, &v);
	return v;
}

static napi_value fail(napi_env env, const char *msg)
{
	napi_throw_error(env, "ERR_CORDON_SPAWN_ADDON", msg);
	return NULL;
}

/* The pidfds this env (the main thread or one worker) holds and JavaScript has not closed:
 * closed when the env goes, as a worker terminated while its launcher runs, which no JavaScript
 * hears (child_process's handles close with it; a pidfd is a bare fd). */
struct held {
	int *fds;
	size_t n, cap;
};

static void held_free(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct held *h = data;
	for (size_t i = 0; i < h->n; i++)
		close(h->fds[i]);
	free(h->fds);
	free(h);
}

static struct held *held_of(napi_env env)
{
	void *h = NULL;
	return napi_get_instance_data(env, &h) == napi_ok ? h : NULL;
}

/* Out of memory, the fd is only left untracked. */
static void hold(napi_env env, int fd)
{
	struct held *h = held_of(env);
	if (!h)
		return;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		int *fds = realloc(h->fds, cap * sizeof *fds);
		if (!fds)
			return;
		h->fds = fds;
		h->cap = cap;
	}
	h->fds[h->n++] = fd;
}

static void release(napi_env env, int fd)
{
	struct held *h = held_of(env);
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		if (h->fds[i] == fd) {
			h->fds[i] = h->fds[--h->n];
			return;
		}
}

/* A string argument, NUL-terminated; NULL when it is not a string or holds a NUL byte (which
 * would cut an argument short without a word). */
static char *string_of(napi_env env, napi_value v)
{
	size_t len = 0;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
		return NULL;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	size_t got = 0;
	if (napi_get_value_string_utf8(env, v, s, len + 1, &got) != napi_ok || got != len ||
	    strlen(s) != len) {
		free(s);
		return NULL;
	}
	return s;
}

static void free_strings(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* A NULL-terminated copy of an array of strings; NULL on any element that is not one. */
static char **strings_of(napi_env env, napi_value array)
{
	uint32_t n = 0;
	if (napi_get_array_length(env, array, &n) != napi_ok || n > 1u << 20)
		return NULL;
	char **v = calloc((size_t)n + 1, sizeof *v);
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		napi_value e = NULL;
		if (napi_get_element(env, array, i, &e) != napi_ok || !(v[i] = string_of(env, e))) {
			free_strings(v);
			return NULL;
		}
	}
	return v;
}

static pid_t start(const char *file, char **argv, char **envp, const int *fds, int nfds,
		   int blocked, int *err)
{
	/* Each source is copied above every target first: a source that is itself a lower target
	 * (fd 1 given as fd 0) is then never overwritten before it is read. The copies are
	 * close-on-exec, and dup2 onto a target clears that flag. */
	int tmp[MAX_FDS];
	int made = 0;
	pid_t pid = -1;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	*err = 0;
	if ((*err = posix_spawn_file_actions_init(&actions)))
		return -1;
	if ((*err = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&actions);
		return -1;
	}
	for (; made < nfds; made++) {
		tmp[made] = fcntl(fds[made], F_DUPFD_CLOEXEC, MAX_FDS);
		if (tmp[made] < 0) {
			*err = errno;
			goto out;
		}
		if ((*err = posix_spawn_file_actions_adddup2(&actions, tmp[made], made)))
			goto out;
	}
	/* What child_process gives a child: every signal at its default (Node ignores SIGPIPE)
	 * and none blocked. Every bit, not sigfillset: glibc leaves its own two real-time signals
	 * (32 and 33) out of a filled set, and posix_spawn then sets them to SIG_IGN in the child,
	 * which an exec keeps. Blocked: the one the caller asks for (the launcher's FORWARD_SIGNAL,
	 * whose default action would end it before it blocks the signal itself). */
	sigset_t all, mask;
	memset(&all, 0xff, sizeof all);
	sigemptyset(&mask);
	if (blocked > 0)
		sigaddset(&mask, blocked);
	if ((*err = posix_spawnattr_setsigdefault(&attr, &all)) ||
	    (*err = posix_spawnattr_setsigmask(&attr, &mask)) ||
	    (*err = posix_spawnattr_setflags(&attr,
					     POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))
		goto out;
	*err = posix_spawn(&pid, file, &actions, &attr, argv, envp);
	if (*err)
		pid = -1;
out:
	for (int i = 0; i < made; i++)
		close(tmp[i]);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	return pid;
}

/* spawn(file, argv, env, fds[, blocked]) → [pid, pidfd], or [-errno] when it could not start
 * (the exec's own failure included: glibc reports it from the child). fds[i] becomes the child's
 * fd i; blocked, a signal number, starts blocked in the child. */
static napi_value do_spawn(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value args[5];
	int32_t blocked = 0;
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 4 ||
	    (argc == 5 && (napi_get_value_int32(env, args[4], &blocked) != napi_ok || blocked < 0 ||
			   blocked >= _NSIG)))
		return fail(env, "spawn(file, argv, env, fds[, blocked]) takes four arguments and "
				 "a signal number");
	char *file = string_of(env, args[0]);
	char **argv = strings_of(env, args[1]);
	char **envp = strings_of(env, args[2]);
	uint32_t nfds = 0;
	int fds[MAX_FDS];
	napi_value out = NULL;
	if (!file || !argv || !envp) {
		fail(env, "spawn(): the file, argv and env must be strings without NUL bytes");
		goto done;
	}
	if (napi_get_array_length(env, args[3], &nfds) != napi_ok || nfds > MAX_FDS) {
		fail(env, "spawn(): fds must be an array of at most 16 file descriptors");
		goto done;
	}
	for (uint32_t i = 0; i < nfds; i++) {
		napi_value e = NULL;
		int32_t fd = -1;
		if (napi_get_element(env, args[3], i, &e) != napi_ok ||
		    napi_get_value_int32(env, e, &fd) != napi_ok || fd < 0) {
			fail(env, "spawn(): each fd must be a non-negative integer");
			goto done;
		}
		fds[i] = fd;
	}
	int err = 0;
	pid_t pid = start(file, argv, envp, fds, (int)nfds, blocked, &err);
	if (pid < 0) {
		napi_create_array_with_length(env, 1, &out);
		napi_set_element(env, out, 0, int_value(env, -err));
		goto done;
	}
	/* Nothing else waits for this child (libuv waits for its own pids only), so it cannot have
	 * been reaped and its pid reused before this. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* Unreachable once usable() said yes; never leave a child no one can wait for. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		napi_create_array_with_length(env, 1, &out);
		napi_set_element(env, out, 0, int_value(env, -errno));
		goto done;
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	hold(env, pidfd);
	napi_create_array_with_length(env, 2, &out);
	napi_set_element(env, out, 0, int_value(env, pid));
	napi_set_element(env, out, 1, int_value(env, pidfd));
done:
	free(file);
	free_strings(argv);
	free_strings(envp);
	return out;
}

/* Exactly want integer arguments (at most 3) into a. */
static int fd_arg(napi_env env, napi_callback_info info, size_t want, int32_t *a)
{
	napi_value args[3];
	size_t argc = want;
	if (want > sizeof args / sizeof *args ||
	    napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != want)
		return -1;
	for (size_t i = 0; i < want; i++)
		if (napi_get_value_int32(env, args[i], &a[i]) != napi_ok)
			return -1;
	return 0;
}

/* wait(pidfd) → null while the child runs, else [code, signal] (one of them -1); [-errno]. */
static napi_value do_wait(napi_env env, napi_callback_info info)
{
	int32_t a[1];
	if (fd_arg(env, info, 1, a))
		return fail(env, "wait(pidfd) takes a pidfd");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	napi_value out = NULL;
	if (waitid((idtype_t)P_PIDFD, (id_t)a[0], &si, WEXITED | WNOHANG) < 0) {
		napi_create_array_with_length(env, 1, &out);
		napi_set_element(env, out, 0, int_value(env, -errno));
		return out;
	}
	if (si.si_pid == 0) {
		napi_get_null(env, &out);
		return out;
	}
	napi_create_array_with_length(env, 2, &out);
	int exited = si.si_code == CLD_EXITED;
	napi_set_element(env, out, 0, int_value(env, exited ? si.si_status : -1));
	napi_set_element(env, out, 1, int_value(env, exited ? -1 : si.si_status));
	return out;
}

/* kill(pidfd, signal) → 0, or -errno (ESRCH once it has exited). */
static napi_value do_kill(napi_env env, napi_callback_info info)
{
	int32_t a[2];
	if (fd_arg(env, info, 2, a))
		return fail(env, "kill(pidfd, signal) takes a pidfd and a signal number");
	long r = syscall(SYS_pidfd_send_signal, a[0], a[1], NULL, 0);
	return int_value(env, r < 0 ? -errno : 0);
}

/* queue(pidfd, signal, value) → 0, or -errno: the signal sent with value as its payload
 * (SI_QUEUE, as sigqueue(3) sends it). A real-time signal is queued, never merged with one
 * already pending (the launcher's FORWARD_SIGNAL). */
static napi_value do_queue(napi_env env, napi_callback_info info)
{
	int32_t a[3];
	if (fd_arg(env, info, 3, a))
		return fail(env, "queue(pidfd, signal, value) takes three integers");
	siginfo_t si = queued_info(a[1], a[2]);
	long r = syscall(SYS_pidfd_send_signal, a[0], a[1], &si, 0);
	return int_value(env, r < 0 ? -errno : 0);
}

/* forwardAll()'s target: a pidfd of the launcher (-1: none yet or any more), and whether a
 * signal goes to it queued as FORWARD_SIGNAL or as itself. Read by the handler on whichever
 * thread the kernel picked. Until there is a target, while holding, each signal is counted in
 * held[] and sent once there is one. */
static volatile sig_atomic_t forward_fd = -1, forward_queued, forward_holding;
static volatile sig_atomic_t held[_NSIG];

static void forward_to(int fd, int sig)
{
	siginfo_t si = queued_info(FORWARD_SIGNAL, sig);
	/* Refused (EAGAIN, the user's RLIMIT_SIGPENDING): as itself, never refused for it. */
	if (!forward_queued ||
	    (syscall(SYS_pidfd_send_signal, fd, FORWARD_SIGNAL, &si, 0) < 0 && errno == EAGAIN))
		syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

static void forward_one(int sig)
{
	int saved = errno, fd = forward_fd;
	if (fd >= 0)
		forward_to(fd, sig);
	else if (forward_holding)
		held[sig]++;
	errno = saved;
}

/* Each signal held: sent on to fd, or, with none (the start failed), raised here, where it
 * takes the action it had before forwardAll; or dropped (drop). */
static void drain_held(int fd, int drop)
{
	for (int sig = 1; sig < _NSIG; sig++)
		for (; held[sig] > 0; held[sig]--)
			if (fd >= 0)
				forward_to(fd, sig);
			else if (!drop)
				raise(sig);
}

/* The signals forwardAll took, to give back at its stop, and the actions they had before:
 * forwarded_sent's keep theirs at the stop, and in between one of the process's own goes there
 * (V8's SIGSEGV handler, which turns a WebAssembly bounds fault into a trap; Node's ignored
 * SIGPIPE). */
static sigset_t forward_taken;
static struct sigaction taken_from[_NSIG];

/* The action sig had before forwardAll, for one of this process's own (a fault, its abort(3), a
 * write to a closed pipe): the handler called, an ignored one ignored, a default one taken
 * (reset, raised again: pending until this handler returns). */
static void as_before(int sig, siginfo_t *si, void *context)
{
	const struct sigaction *was = &taken_from[sig];
	/* One union: SIG_DFL and SIG_IGN whatever the flags say. */
	if (was->sa_handler == SIG_IGN)
		return;
	if (was->sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		raise(sig);
	} else if (was->sa_flags & SA_SIGINFO) {
		was->sa_sigaction(sig, si, context);
	} else {
		was->sa_handler(sig);
	}
}

static void forward_sent_one(int sig, siginfo_t *si, void *context)
{
	if (si && sent_by_other(si->si_code, si->si_pid))
		forward_one(sig);
	else
		as_before(sig, si, context);
}

/* The handler on every signal of forwarded_all and forwarded_sent but except (SIGPROF aside
 * while V8's profiler holds it, --cpu-prof: its ticks would be passed on). 0, or -errno. */
static int forward_take(const sigset_t *except)
{
	struct sigaction sa = { .sa_handler = forward_one, .sa_flags = SA_RESTART }, old;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < _NSIG; sig++) {
		if (!forwarded_any(sig) || sigismember(except, sig) == 1 ||
		    sigismember(&forward_taken, sig) == 1 || sigaction(sig, NULL, &old))
			continue;
		if (sig == SIGPROF && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
			continue;
		struct sigaction to = sa;
		if (forwarded_sent(sig)) {
			/* On the stack and with the mask the handler before asked for (Node runs
			 * V8's on an alternate stack). */
			to = old;
			to.sa_sigaction = forward_sent_one;
			to.sa_flags = (old.sa_flags & (SA_ONSTACK | SA_NODEFER)) | SA_SIGINFO |
				      SA_RESTART;
		}
		taken_from[sig] = old; /* before: a fault in between goes there */
		if (sigaction(sig, &to, NULL))
			return -errno;
		sigaddset(&forward_taken, sig);
	}
	return 0;
}

/* The actions back; a signal still held takes the one it had now (the start it waited for
 * failed: its default, Node's ignored SIGPIPE). One counted after its launcher was known
 * (another thread's handler, racing the switch) is not held: it is dropped. */
static void forward_stop(void)
{
	int holding = forward_holding;
	forward_fd = -1;
	forward_holding = 0;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sigismember(&forward_taken, sig) == 1)
			sigaction(sig, &taken_from[sig], NULL);
	sigemptyset(&forward_taken);
	drain_held(-1, !holding);
}

/* forwardAll(pid, queued, except) → 0, or -errno: from now on every signal of forward-signal.h's
 * forwarded_all but those in except (the numbers JavaScript passes on itself) that reaches this
 * process goes to pid (the launcher, run with --all-signals), as FORWARD_SIGNAL with its number
 * when queued, else as itself. In C, as runc's Go runtime takes every signal: Node can listen to
 * no real-time signal and died of them, and the sandbox with it (cordon-oci left its container
 * running). By pidfd, so that a pid reused after the launcher is reaped never gets one.
 * pid -1 holds them, from before the launcher starts, until a call with its pid sends them on
 * (cordon-oci died of one in that window, leaving a container nothing managed: helper-131);
 * pid -2 ends a hold that found no launcher, as pid 0 ends everything: the signals take their
 * default action again, and a held one takes it then (cordon dies of the command's signal,
 * src/cli/signals.ts endAsTheCommand). A pidfd is never closed: a handler running now on another
 * thread may still use it. */
static napi_value do_forward_all(napi_env env, napi_callback_info info)
{
	napi_value args[3];
	size_t argc = 3;
	int32_t pid = 0;
	bool queued = false;
	uint32_t n = 0;
	sigset_t except;
	sigemptyset(&except);
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 3 ||
	    napi_get_value_int32(env, args[0], &pid) != napi_ok ||
	    napi_get_value_bool(env, args[1], &queued) != napi_ok || pid < -2 ||
	    napi_get_array_length(env, args[2], &n) != napi_ok || n > _NSIG)
		return fail(env, "forwardAll(pid, queued, except) takes a pid (-1: hold, -2: end a "
				 "hold, 0: stop), a boolean and an array of signal numbers");
	for (uint32_t i = 0; i < n; i++) {
		napi_value e;
		int32_t sig;
		if (napi_get_element(env, args[2], i, &e) != napi_ok ||
		    napi_get_value_int32(env, e, &sig) != napi_ok || sig < 1 || sig >= _NSIG)
			return fail(env, "forwardAll(): except holds signal numbers");
		sigaddset(&except, sig);
	}
	if (pid == 0 || (pid == -2 && forward_holding)) {
		forward_stop();
		return int_value(env, 0);
	}
	if (pid == -2)
		return int_value(env, 0);
	if (pid == -1) {
		forward_holding = 1;
		return int_value(env, forward_take(&except));
	}
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return int_value(env, -errno);
	forward_queued = queued;
	forward_fd = fd;
	forward_holding = 0;
	int err = forward_take(&except);
	/* What came before: sent on now, one for each (a real-time signal is queued once each). */
	drain_held(fd, 0);
	return int_value(env, err);
}

/* socketpair() → [a, b], a unix stream pair, both close-on-exec; [-errno]. */
static napi_value do_socketpair(napi_env env, napi_callback_info info)
{
	(void)info;
	int sv[2];
	napi_value out = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		napi_create_array_with_length(env, 1, &out);
		napi_set_element(env, out, 0, int_value(env, -errno));
		return out;
	}
	napi_create_array_with_length(env, 2, &out);
	napi_set_element(env, out, 0, int_value(env, sv[0]));
	napi_set_element(env, out, 1, int_value(env, sv[1]));
	return out;
}

/* listen(path) → [fd], a unix stream socket bound at path (mode 0600) and listening, close-on-
 * exec and non-blocking (accept() below returns when none waits); or [-errno]. From the bind
 * on, clients that connect wait in the kernel's queue until JavaScript accepts them
 * (publish.ts): net's own listen() loads node:cluster, child_process and dgram, ~5 ms of a
 * start that a short run never needs. */
static napi_value do_listen(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg = NULL, out = NULL;
	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc != 1)
		return fail(env, "listen(path) takes a path");
	char *path = string_of(env, arg);
	if (!path)
		return fail(env, "listen(): the path must be a string without NUL bytes");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1, err = 0;
	if (strlen(path) >= sizeof sa.sun_path) {
		err = ENAMETOOLONG;
		goto done;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = errno;
		goto done;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		err = errno; /* EADDRINUSE when the path exists: not this call's to remove */
		close(fd);
		fd = -1;
		goto done;
	}
	if (chmod(path, 0600) < 0 || listen(fd, 511) < 0) {
		err = errno;
		unlink(path);
		close(fd);
		fd = -1;
	}
done:
	free(path);
	napi_create_array_with_length(env, 1, &out);
	napi_set_element(env, out, 0, int_value(env, fd >= 0 ? fd : -err));
	return out;
}

/* A flood of connections cannot hold accept() for long. */
#define MAX_ACCEPT 1024

/* accept(fd) → [fd...]: the connections waiting on a socket of listen()'s, each non-blocking
 * and close-on-exec; none when none waits. For a publisher that ends before it served its
 * socket: the clients the kernel queued meanwhile get their lines, not a reset (publish.ts). */
static napi_value do_accept(napi_env env, napi_callback_info info)
{
	int32_t a[1];
	if (fd_arg(env, info, 1, a))
		return fail(env, "accept(fd) takes an fd");
	napi_value out = NULL;
	napi_create_array_with_length(env, 0, &out);
	uint32_t n = 0;
	for (int tries = 0; tries < MAX_ACCEPT; tries++) {
		int c = accept4(a[0], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0)
			napi_set_element(env, out, n++, int_value(env, c));
		else if (errno != EINTR && errno != ECONNABORTED)
			break; /* EAGAIN: no more waiting */
	}
	return out;
}

/* close(fd) → 0 or -errno: for the fds this addon made (Node's fs.closeSync warns in a worker
 * thread about fds it did not open). */
static napi_value do_close(napi_env env, napi_callback_info info)
{
	int32_t a[1];
	if (fd_arg(env, info, 1, a))
		return fail(env, "close(fd) takes an fd");
	release(env, a[0]);
	return int_value(env, close(a[0]) < 0 ? -errno : 0);
}

/* send(fd, buffer) → bytes written, or -errno: a socket written without waiting, and without
 * O_NONBLOCK on its file description, which the sandboxed program shares. cordon's own lines on
 * a stderr that is a socket (src/host/stderr.ts): a program that filled it, and a reader that
 * does not read, must not hold cordon's event loop and with it the run's timeout. A pipe or a
 * terminal gets a description of its own from /proc/self/fd; a socket cannot be opened there.
 * MSG_NOSIGNAL: a reader gone is EPIPE, not a SIGPIPE. */
static napi_value do_send(napi_env env, napi_callback_info info)
{
	napi_value args[2];
	size_t argc = 2;
	int32_t fd = -1;
	void *data = NULL;
	size_t len = 0;
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 2 ||
	    napi_get_value_int32(env, args[0], &fd) != napi_ok ||
	    napi_get_buffer_info(env, args[1], &data, &len) != napi_ok)
		return fail(env, "send(fd, buffer) takes an fd and a Buffer");
	if (len > INT32_MAX)
		len = INT32_MAX;
	ssize_t n;
	do
		n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return int_value(env, n < 0 ? -errno : (int32_t)n);
}

/* growRoom(fd) → room for twice as much in the pipe or socket fd writes to: its new size, or
 * -errno (neither; past /proc/sys/fs/pipe-max-size or the user's pipe quota: EPERM; a socket's
 * send buffer past net.core.wmem_max without CAP_NET_ADMIN stays where it was: EPERM). cordon's
 * own lines still waiting when it exits go into the room this makes (src/host/stderr.ts), where
 * it waited for good for a reader that never reads, a run's `--timeout` with it. */
static napi_value do_grow_room(napi_env env, napi_callback_info info)
{
	napi_value arg;
	size_t argc = 1;
	int32_t fd = -1;
	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc != 1 ||
	    napi_get_value_int32(env, arg, &fd) != napi_ok || fd < 0)
		return fail(env, "growRoom(fd) takes a file descriptor");
	int size = fcntl(fd, F_GETPIPE_SZ);
	if (size >= 0) {
		if (size > INT32_MAX / 2)
			return int_value(env, -EPERM);
		int grown = fcntl(fd, F_SETPIPE_SZ, size * 2);
		return int_value(env, grown < 0 ? -errno : grown);
	}
	socklen_t len = sizeof size;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0)
		return int_value(env, -errno);
	if (size > INT32_MAX / 2)
		return int_value(env, -EPERM);
	/* The kernel doubles what it is given (its own bookkeeping): size is that already. */
	int want = size, grown = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
	len = sizeof grown;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &grown, &len) < 0)
		return int_value(env, -errno);
	return int_value(env, grown > size ? grown : -EPERM);
}

/* watch(): a launcher's channel read on Node's own event loop, without node:net. A net.Socket
 * costs `cordon run` ~5 ms of start (node:net and its streams, loaded after the launcher
 * starts, while the launcher is already done) and spawn() a stream per sandbox. The launcher
 * writes JSON lines, so JavaScript is handed whole lines, in as few calls as the reads allow,
 * and a line's UTF-8 is never cut between two strings. */

/* One callback reads at most this much: a launcher writing without pause still lets the loop
 * run timers and other sandboxes' lines between two calls. */
#define READ_PER_CALL (1u << 20)
/* A line this long without a newline is handed over as it is (the launcher's lines are short:
 * a path is at most PATH_MAX). */
#define MAX_PARTIAL (4u << 20)

struct watch {
	struct watch *next;
	napi_env env;
	uv_poll_t *poll;
	int fd;
	int32_t id;
	bool done; /* ended or unwatched: no more reads, no more calls */
	napi_ref cb;
	napi_async_context ctx;
	napi_async_cleanup_hook_handle hook;
	char *buf; /* what was read after the last newline handed over */
	size_t len, cap;
};

/* Every env's watches (the main thread's and each worker's, each on its own thread and loop):
 * the list and the ids under the lock; a watch itself is touched only by its env's thread. */
static pthread_mutex_t watches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;
static int32_t last_id;

/* Its JavaScript side: released while the env still stands. */
static void watch_release(struct watch *w)
{
	if (w->cb)
		napi_delete_reference(w->env, w->cb);
	if (w->ctx)
		napi_async_destroy(w->env, w->ctx);
	w->cb = NULL;
	w->ctx = NULL;
}

/* The poll handle has closed: the watch goes, and with it the hook that would have closed it
 * when the env goes (a worker terminated while its launcher runs). */
static void watch_closed(uv_handle_t *h)
{
	struct watch *w = uv_handle_get_data(h);
	pthread_mutex_lock(&watches_lock);
	for (struct watch **p = &watches; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	pthread_mutex_unlock(&watches_lock);
	watch_release(w);
	if (w->hook)
		napi_remove_async_cleanup_hook(w->hook);
	free(w->buf);
	free(w->poll);
	free(w);
}

static void watch_add(struct watch *w)
{
	pthread_mutex_lock(&watches_lock);
	w->id = ++last_id;
	w->next = watches;
	watches = w;
	pthread_mutex_unlock(&watches_lock);
}

/* No more reads: the fd is closed at once (the launcher reads end of file where it waits for
 * the go) and the handle once libuv lets it go. libuv has removed the fd from its epoll set by
 * the time uv_poll_stop returns, so closing it here is safe. */
static void watch_stop(struct watch *w)
{
	if (w->done)
		return;
	w->done = true;
	uv_poll_stop(w->poll);
	close(w->fd);
	w->fd = -1;
	uv_close((uv_handle_t *)w->poll, watch_closed);
}

/* The env is going (a worker's end, or Node's at exit) with the watch open: its JavaScript side
 * is released now, its handle closed, and Node waits for watch_closed to remove this hook. */
static void watch_cleanup(napi_async_cleanup_hook_handle handle, void *data)
{
	struct watch *w = data;
	w->hook = handle;
	watch_release(w);
	watch_stop(w);
}

/* Calls the watcher with (text, end): text the whole lines read (or undefined), end 0 at end of
 * file, -errno after an error, undefined while the channel is open. */
static void watch_call(struct watch *w, const char *text, size_t n, bool end, int err)
{
	napi_env env = w->env;
	napi_handle_scope scope = NULL;
	if (!w->cb || napi_open_handle_scope(env, &scope) != napi_ok)
		return;
	napi_value cb = NULL, recv = NULL, argv[2] = { NULL, NULL };
	napi_get_undefined(env, &argv[0]);
	napi_get_undefined(env, &argv[1]);
	if (text)
		napi_create_string_utf8(env, text, n, &argv[0]);
	if (end)
		argv[1] = int_value(env, -err);
	if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb &&
	    napi_get_global(env, &recv) == napi_ok) {
		napi_make_callback(env, w->ctx, recv, cb, 2, argv, NULL);
		/* What the callback threw is the program's uncaught exception, as it is when a
		 * stream's 'data' listener throws. */
		bool pending = false;
		napi_value e = NULL;
		if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
		    napi_get_and_clear_last_exception(env, &e) == napi_ok)
			napi_fatal_exception(env, e);
	}
	napi_close_handle_scope(env, scope);
}

/* How much of b[0..n) is whole UTF-8 characters: a character cut at n (its lead byte, then
 * fewer continuation bytes than the lead announces) is left for the next read. Bytes that are
 * not UTF-8 go as they are. */
static size_t utf8_whole(const char *b, size_t n)
{
	size_t i = n;
	while (i > 0 && n - i < 3 && ((unsigned char)b[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)b[i - 1];
	size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return n - (i - 1) < need ? i - 1 : n;
}

static void watch_readable(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct watch *w = uv_handle_get_data((uv_handle_t *)h);
	/* An error on the socket (ECONNRESET: the launcher exited with the go byte unread) makes
	 * libuv stop the handle and report it without a read: what the launcher wrote before it
	 * exited, its error event above all, is still queued, and read() returns it first. */
	bool failed = status < 0;
	int err = 0;
	bool end = false;
	size_t got = 0;
	while (!end && (failed || got < READ_PER_CALL)) {
		if (w->cap - w->len < 65536) {
			size_t cap = w->cap ? w->cap * 2 : 65536 * 2;
			char *b = realloc(w->buf, cap);
			if (!b) {
				err = ENOMEM;
				end = true;
				break;
			}
			w->buf = b;
			w->cap = cap;
		}
		ssize_t n = read(w->fd, w->buf + w->len, w->cap - w->len);
		if (n > 0) {
			w->len += (size_t)n;
			got += (size_t)n;
		} else if (n == 0) {
			end = true;
		} else if (errno == EAGAIN) {
			if (failed) {
				err = -status;
				end = true;
			}
			break;
		} else if (errno != EINTR) {
			err = errno;
			end = true;
		}
	}
	/* Whole lines now; at the end, the rest too; a line that never ends, as it is, but for a
	 * character its last read cut. */
	size_t give = w->len;
	if (!end && w->len <= MAX_PARTIAL)
		while (give > 0 && w->buf[give - 1] != '\n')
			give--;
	else if (!end)
		give = utf8_whole(w->buf, w->len);
	if (end)
		watch_stop(w);
	if (give > 0 || end) {
		watch_call(w, give ? w->buf : NULL, give, end, err);
		/* The callback may have unwatched: the buffer is still this watch's until closed. */
		memmove(w->buf, w->buf + give, w->len - give);
		w->len -= give;
	}
}

/* watch(fd, callback) → an id, or -errno: fd's reads handed to callback(text, end) from the event
 * loop (whole lines; end 0 at end of file, -errno on an error), fd closed at the end. The fd is
 * the watch's from then on: unwatch(id) stops and closes it. It is made non-blocking. */
static napi_value do_watch(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value args[2];
	int32_t fd = -1;
	napi_valuetype t = napi_undefined;
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 2 ||
	    napi_get_value_int32(env, args[0], &fd) != napi_ok || fd < 0 ||
	    napi_typeof(env, args[1], &t) != napi_ok || t != napi_function)
		return fail(env, "watch(fd, callback) takes an fd and a function");
	struct uv_loop_s *loop = NULL;
	struct watch *w = calloc(1, sizeof *w);
	napi_value name = NULL;
	if (!w || !(w->poll = calloc(1, uv_handle_size(UV_POLL_HANDLE)))) {
		free(w);
		return int_value(env, -ENOMEM);
	}
	w->env = env;
	w->fd = fd;
	int r = -EINVAL;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
	    napi_create_string_utf8(env, "cordon:launcher-channel", NAPI_AUTO_LENGTH, &name) !=
		    napi_ok ||
	    napi_async_init(env, NULL, name, &w->ctx) != napi_ok ||
	    napi_create_reference(env, args[1], 1, &w->cb) != napi_ok)
		goto fail;
	if ((r = uv_poll_init(loop, w->poll, fd)) < 0)
		goto fail;
	uv_handle_set_data((uv_handle_t *)w->poll, w);
	if ((r = uv_poll_start(w->poll, UV_READABLE | UV_DISCONNECT, watch_readable)) < 0) {
		/* An initialised handle is closed through libuv; the fd stays the caller's. */
		w->done = true;
		watch_add(w);
		uv_close((uv_handle_t *)w->poll, watch_closed);
		return int_value(env, r);
	}
	if (napi_add_async_cleanup_hook(env, watch_cleanup, w, &w->hook) != napi_ok)
		w->hook = NULL;
	watch_add(w);
	return int_value(env, w->id);
fail:
	if (w->cb)
		napi_delete_reference(env, w->cb);
	if (w->ctx)
		napi_async_destroy(env, w->ctx);
	free(w->poll);
	free(w);
	return int_value(env, r);
}

/* unwatch(id) → 0, or -ENOENT for an id that has ended: stops reading and closes the fd,
 * without a last call. */
static napi_value do_unwatch(napi_env env, napi_callback_info info)
{
	int32_t a[1];
	if (fd_arg(env, info, 1, a))
		return fail(env, "unwatch(id) takes an id of watch()'s");
	struct watch *found = NULL;
	pthread_mutex_lock(&watches_lock);
	for (struct watch *w = watches; w && !found; w = w->next)
		if (w->id == a[0] && w->env == env && !w->done)
			found = w;
	pthread_mutex_unlock(&watches_lock);
	/* Only this thread closes its env's watches, so the one found stands until then. */
	if (!found)
		return int_value(env, -ENOENT);
	watch_stop(found);
	return int_value(env, 0);
}

/* Whether this kernel has what the addon needs: pidfd_open (5.3) and waitid on a pidfd (5.4).
 * A pidfd of this process itself answers both: waitid then fails ECHILD, not EINVAL. */
static napi_value do_usable(napi_env env, napi_callback_info info)
{
	(void)info;
	bool ok = false;
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0) {
		siginfo_t si;
		ok = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 &&
		     errno == ECHILD;
		close(fd);
	}
	napi_value v = NULL;
	napi_get_boolean(env, ok, &v);
	return v;
}

/* map(path): the file's bytes mapped private and populated, as [buffer, mtimeMs]; null when the
 * file cannot be mapped (JavaScript then reads it). For the CLI's code cache (bin/code-cache.cjs):
 * read into a new buffer, a 1 MB cache was ~270 pages of fresh memory, each first touched by a
 * page fault, where a populated mapping of the page cache costs a fraction of that (a fault is
 * ~10 us on a VM measured at ~0.8 us per populated page). Private and writable: a write to the
 * buffer changes this process's copy only. The file is read while the bundle compiles, never
 * after: JavaScript copies the source out of it, and V8 deserialises its data at once, so a cache
 * rewritten in place later (an upgrade) cannot reach code that runs (it would fault on a page the
 * file no longer has: SIGBUS). Unmapped when the buffer is collected. */
static void unmap(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value do_map(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg = NULL, out = NULL, buffer = NULL, mtime = NULL;
	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc != 1)
		return fail(env, "map(path) takes a path");
	char *path = string_of(env, arg);
	if (!path)
		return fail(env, "map(): the path must be a string without NUL bytes");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	struct stat st;
	void *base = MAP_FAILED;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= INT32_MAX)
		base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (base == MAP_FAILED) {
		napi_get_null(env, &out);
		return out;
	}
	size_t length = (size_t)st.st_size;
	if (napi_create_external_buffer(env, length, base, unmap, (void *)(uintptr_t)length,
					&buffer) != napi_ok) {
		munmap(base, length);
		napi_get_null(env, &out);
		return out;
	}
	napi_create_double(env, (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6,
			   &mtime);
	napi_create_array_with_length(env, 2, &out);
	napi_set_element(env, out, 0, buffer);
	napi_set_element(env, out, 1, mtime);
	return out;
}

/* sameReads(encoded, same) → the number of reads, or -1 for a malformed encoding: a filed plan's
 * host reads made again (host-reads.c), same[i] set to 1 for each read C confirms. Both are
 * Buffers; same holds one byte per read. */
static napi_value do_same_reads(napi_env env, napi_callback_info info)
{
	napi_value args[2];
	size_t argc = 2;
	void *in = NULL, *same = NULL;
	size_t in_len = 0, n = 0;
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 2 ||
	    napi_get_buffer_info(env, args[0], &in, &in_len) != napi_ok ||
	    napi_get_buffer_info(env, args[1], &same, &n) != napi_ok)
		return fail(env, "sameReads(encoded, same) takes two Buffers");
	long count = host_reads_same(in, in_len, same, n);
	return int_value(env, count < 0 ? -1 : (int32_t)count);
}

NAPI_EXPORT int32_t node_api_module_get_api_version_v1(void);
NAPI_EXPORT int32_t node_api_module_get_api_version_v1(void)
{
	return 8;
}

NAPI_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports);
NAPI_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback cb;
	} fns[] = { { "spawn", do_spawn },
		    { "wait", do_wait },
		    { "kill", do_kill },
		    { "queue", do_queue },
		    { "forwardAll", do_forward_all },
		    { "socketpair", do_socketpair },
		    { "usable", do_usable },
		    { "close", do_close },
		    { "listen", do_listen },
		    { "accept", do_accept },
		    { "watch", do_watch },
		    { "unwatch", do_unwatch },
		    { "send", do_send },
		    { "map", do_map },
		    { "growRoom", do_grow_room },
		    { "sameReads", do_same_reads } };
	struct held *h = calloc(1, sizeof *h);
	if (h && napi_set_instance_data(env, h, held_free, NULL) != napi_ok)
		free(h);
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		napi_value f = NULL;
		if (napi_create_function(env, fns[i].name, strlen(fns[i].name), fns[i].cb, NULL,
					 &f) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
			return NULL;
	}
	return exports;
}
