/* init-guard.c — see init-guard.h. */
#define _GNU_SOURCE
#include "init-guard.h"
#include "events.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define GUARD_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define GUARD_ARCH AUDIT_ARCH_AARCH64
#endif

/* The low 32 bits of argument i (the kernel reads these pids and selectors as int), and the
 * high ones. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif
#define ARG_HI(i) (ARG_LO(i) ^ 4)

/* Instruction `pc` loads or jumps; a jump names its targets by index. */
#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define IF_EQ(pc, k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t) - (pc)-1, (f) - (pc)-1)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

enum { PID = 9, PRLIMIT = 11, PRIO = 17, ALLOW = 21, DENY = 22 };

void init_guard_install(void)
{
#ifdef GUARD_ARCH
	struct sock_filter prog[] = {
		LOAD(offsetof(struct seccomp_data, arch)),
		IF_EQ(1, GUARD_ARCH, 2, ALLOW), /* another ABI: the policy's filter decides */
		LOAD(offsetof(struct seccomp_data, nr)),
		IF_EQ(3, __NR_setpriority, PRIO, 4),
		IF_EQ(4, __NR_sched_setscheduler, PID, 5),
		IF_EQ(5, __NR_sched_setparam, PID, 6),
		IF_EQ(6, __NR_sched_setattr, PID, 7),
		IF_EQ(7, __NR_sched_setaffinity, PID, 8),
		IF_EQ(8, __NR_prlimit64, PRLIMIT, ALLOW),
		/* PID */ LOAD(ARG_LO(0)),
		IF_EQ(10, 1, DENY, ALLOW),
		/* PRLIMIT */ LOAD(ARG_LO(0)),
		IF_EQ(12, 1, 13, ALLOW),
		LOAD(ARG_LO(2)), /* new_limit: NULL only reads */
		IF_EQ(14, 0, 15, DENY),
		LOAD(ARG_HI(2)),
		IF_EQ(16, 0, ALLOW, DENY),
		/* PRIO: which, then who */ LOAD(ARG_LO(0)),
		IF_EQ(18, PRIO_USER, DENY, 19),
		LOAD(ARG_LO(1)),
		IF_EQ(20, 1, DENY, ALLOW),
		/* ALLOW */ RET(SECCOMP_RET_ALLOW),
		/* DENY */ RET(SECCOMP_RET_ERRNO | EPERM),
	};
	_Static_assert(sizeof prog / sizeof *prog == DENY + 1, "labels match the program");
	struct sock_fprog fprog = { .len = sizeof prog / sizeof *prog, .filter = prog };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog))
		die_step(EXIT_CORDON, "seccomp", "guard init", NULL, errno);
#endif
}
