// cordon-init: the first process of a runtime backend's container (`--backend runc|gvisor`).
//
// The kernel protects a pid namespace's first process: a signal it has no handler for is
// dropped, from inside the namespace (its own SIGPIPE on a closed pipe too) and from runc. A
// command that is pid 1 outlives the SIGPIPE that ends it natively (`seq | head -1` exits 1
// with "Broken pipe" instead of 141) and reaps no orphans. This init forks the command, passes
// it every signal the runtime forwards, reaps whatever is reparented to it, and exits with the
// command's status (128+N for signal N) once the command ends; the kernel then ends the rest of
// the namespace, as cordon's own init does.
//
// Built without libc (-nostdlib -static): its system calls are exactly those below, which the
// TypeScript side checks the container's seccomp profile allows before it uses the init
// (src/backends/container-init.ts INIT_CALLS), so a policy can never kill or refuse it. When
// one fails all the same, the init gives way and becomes the command (exec in place, as
// without it), never ends the run by itself.
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/signal.h>
#include <linux/wait.h>
#include <stddef.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "cordon-init: x86_64 and aarch64 only"
#endif

// The kernel's sigset for rt_sig*: 64 bits on both architectures.
typedef unsigned long ksigset;
#define KSIGSET_SIZE sizeof(ksigset)

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#else
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#endif
}

#define SYS(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static __attribute__((noreturn)) void exit_group(int code)
{
	for (;;)
		SYS(__NR_exit_group, code, 0, 0, 0);
}

static size_t length(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	size_t n = length(s);
	while (n) {
		long w = SYS(__NR_write, 2, s, n, 0);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static const char *errno_name(long err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT: no such file";
	case EACCES:
		return "EACCES: permission denied";
	case ENOEXEC:
		return "ENOEXEC: not an executable format";
	case ENOTDIR:
		return "ENOTDIR: a component of the path is not a directory";
	case ELOOP:
		return "ELOOP: too many symbolic links";
	case ENAMETOOLONG:
		return "ENAMETOOLONG: name too long";
	case E2BIG:
		return "E2BIG: arguments and environment too long";
	case ENOMEM:
		return "ENOMEM: out of memory";
	case EPERM:
		return "EPERM: operation not permitted";
	case ETXTBSY:
		return "ETXTBSY: text file busy";
	case EISDIR:
		return "EISDIR: is a directory";
	default:
		return "exec refused";
	}
}

static int has_slash(const char *s)
{
	for (; *s; s++)
		if (*s == '/')
			return 1;
	return 0;
}

static const char *env_path(char **envp)
{
	for (; *envp; envp++) {
		const char *e = *envp;
		if (e[0] == 'P' && e[1] == 'A' && e[2] == 'T' && e[3] == 'H' && e[4] == '=')
			return e + 5;
	}
	return "/usr/local/bin:/usr/bin:/bin";
}

/** execvp's search (as the runtimes resolve a command: the container's PATH), returning the
 * errno that explains the failure: EACCES when some candidate was refused, else the last. */
static long exec_command(char **argv, char **envp)
{
	const char *name = argv[0];
	if (has_slash(name))
		return -SYS(__NR_execve, name, argv, envp, 0);
	size_t len = length(name);
	long seen_eacces = 0, err = ENOENT;
	const char *p = env_path(envp);
	for (;;) {
		const char *end = p;
		while (*end && *end != ':')
			end++;
		size_t dir = (size_t)(end - p);
		char path[4096];
		if (dir + 1 + len + 1 <= sizeof path) {
			size_t n = 0;
			for (size_t i = 0; i < dir; i++)
				path[n++] = p[i];
			if (dir)
				path[n++] = '/';
			for (size_t i = 0; i < len; i++)
				path[n++] = name[i];
			path[n] = 0;
			err = -SYS(__NR_execve, path, argv, envp, 0);
			if (err == EACCES)
				seen_eacces = 1;
			else if (err != ENOENT && err != ENOTDIR && err != ESTALE &&
				 err != ENODEV && err != ETIMEDOUT)
				return err;
		} else {
			err = ENAMETOOLONG;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return seen_eacces ? EACCES : err;
}

static __attribute__((noreturn)) void become_command(char **argv, char **envp)
{
	long err = exec_command(argv, envp);
	say("cordon: exec ");
	say(argv[0]);
	say(" failed: ");
	say(has_slash(argv[0]) || err != ENOENT ? errno_name(err)
						: "ENOENT: not found in the sandbox's PATH");
	say("\n");
	exit_group(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

static __attribute__((noreturn)) void exit_as(int status)
{
	// A core dump's flag (0x80) is not part of the signal's number.
	exit_group((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f));
}

/** Without signals: reaps until the command ends (nothing is forwarded any more). */
static __attribute__((noreturn)) void wait_only(long child)
{
	for (;;) {
		int status = 0;
		long pid = SYS(__NR_wait4, -1, &status, __WALL, 0);
		if (pid == child)
			exit_as(status);
		if (pid < 0 && pid != -EINTR)
			exit_group(125);
	}
}

static ksigset bit(int sig)
{
	return 1UL << (sig - 1);
}

__attribute__((used)) void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	if (argc < 2) {
		say("cordon-init: usage: cordon-init COMMAND [ARG...]\n");
		exit_group(125);
	}
	char **command = argv + 1;
	// Every signal a process can be sent, less those it cannot catch and those that report a
	// fault of its own (tini's set): the forwarded ones and SIGCHLD wait blocked.
	ksigset all = ~0UL;
	all &= ~(bit(SIGKILL) | bit(SIGSTOP) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGABRT) |
		 bit(SIGBUS) | bit(SIGFPE) | bit(SIGSEGV) | bit(SIGSYS) | bit(SIGTTIN) |
		 bit(SIGTTOU));
	ksigset old = 0;
	if (SYS(__NR_rt_sigprocmask, SIG_BLOCK, &all, &old, KSIGSET_SIZE) < 0)
		become_command(command, envp);
	long child = sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
	if (child < 0) {
		SYS(__NR_rt_sigprocmask, SIG_SETMASK, &old, 0, KSIGSET_SIZE);
		become_command(command, envp);
	}
	if (child == 0) {
		// A session and process group of its own, as natively (launcher.c): its `kill 0`
		// reaches its own group, not the init, and setsid() is refused it as there.
		SYS(__NR_setsid, 0, 0, 0, 0);
		SYS(__NR_rt_sigprocmask, SIG_SETMASK, &old, 0, KSIGSET_SIZE);
		become_command(command, envp);
	}
	for (;;) {
		siginfo_t info;
		long sig = SYS(__NR_rt_sigtimedwait, &all, &info, 0, KSIGSET_SIZE);
		if (sig == -EINTR)
			continue; // a stop and continue of the init
		if (sig < 0)
			wait_only(child); // cannot happen where the profile was checked
		if (sig != SIGCHLD) {
			// Only what comes from outside the container (the runtime passing cordon's on:
			// no pid in this namespace) or from the kernel: natively Landlock's signal scope
			// keeps the command from signalling its init, and a signal the command sent
			// pid 1 or its parent came back to it.
			if (info.si_pid == 0)
				SYS(__NR_kill, child, sig, 0, 0);
			continue;
		}
		for (;;) {
			int status = 0;
			long pid = SYS(__NR_wait4, -1, &status, WNOHANG | __WALL, 0);
			if (pid <= 0)
				break;
			if (pid != child)
				continue;
			exit_as(status);
		}
	}
}

// The entry point: the kernel leaves argc, argv and envp on the stack.
#if defined(__x86_64__)
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");
#else
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	mov x0, sp\n"
	"	bl start_c\n"
	"	brk #0\n");
#endif
