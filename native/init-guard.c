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

/* The native entry's numbers from the headers; x86_64's i386 entry takes a program's int 0x80
 * where the kernel has IA-32 emulation, with numbers of its own (arch/x86/entry/syscalls). A
 * foreign entry the policy's filter kills (arm64's arm32) needs no check here. */
#if defined(__x86_64__)
#define GUARD_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386
#define COMPAT_NR_setpriority 97
#define COMPAT_NR_sched_setparam 154
#define COMPAT_NR_sched_setscheduler 156
#define COMPAT_NR_sched_setaffinity 241
#define COMPAT_NR_ioprio_set 289
#define COMPAT_NR_prlimit64 340
#define COMPAT_NR_sched_setattr 351
#elif defined(__aarch64__) || (defined(__riscv) && __riscv_xlen == 64)
#if defined(__aarch64__)
#define GUARD_ARCH AUDIT_ARCH_AARCH64
#else
#define GUARD_ARCH AUDIT_ARCH_RISCV64
#endif
#define COMPAT_ARCH 0 /* no arch is 0: the compat ladder is never entered */
#define COMPAT_NR_setpriority __NR_setpriority
#define COMPAT_NR_sched_setparam __NR_sched_setparam
#define COMPAT_NR_sched_setscheduler __NR_sched_setscheduler
#define COMPAT_NR_sched_setaffinity __NR_sched_setaffinity
#define COMPAT_NR_ioprio_set __NR_ioprio_set
#define COMPAT_NR_prlimit64 __NR_prlimit64
#define COMPAT_NR_sched_setattr __NR_sched_setattr
#else
#error "init-guard.c: add this architecture's AUDIT_ARCH and compat entry"
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

/* One ladder per entry, then the checks both share; each instruction's index is its label. */
#define LADDER(at, prefix)                                                                         \
	LOAD(offsetof(struct seccomp_data, nr)),                                                   \
		IF_EQ((at) + 1, prefix##setpriority, PRIO, (at) + 2),                              \
		IF_EQ((at) + 2, prefix##ioprio_set, IOPRIO, (at) + 3),                             \
		IF_EQ((at) + 3, prefix##sched_setscheduler, PID, (at) + 4),                        \
		IF_EQ((at) + 4, prefix##sched_setparam, PID, (at) + 5),                            \
		IF_EQ((at) + 5, prefix##sched_setattr, PID, (at) + 6),                             \
		IF_EQ((at) + 6, prefix##sched_setaffinity, PID, (at) + 7),                         \
		IF_EQ((at) + 7, prefix##prlimit64, PRLIMIT, ALLOW)

enum {
	NATIVE = 2,
	COMPAT = NATIVE + 8,
	PID = COMPAT + 9,
	PRLIMIT = PID + 2,
	PRIO = PRLIMIT + 6,
	IOPRIO = PRIO + 4,
	ALLOW = IOPRIO + 4,
	DENY,
};

void init_guard_install(void)
{
	struct sock_filter prog[] = {
		LOAD(offsetof(struct seccomp_data, arch)),
		IF_EQ(1, GUARD_ARCH, NATIVE, COMPAT),
		/* NATIVE */ LADDER(NATIVE, __NR_),
		/* COMPAT */ IF_EQ(COMPAT, COMPAT_ARCH, COMPAT + 1, ALLOW),
		LADDER(COMPAT + 1, COMPAT_NR_),
		/* PID: the target */ LOAD(ARG_LO(0)),
		IF_EQ(PID + 1, 1, DENY, ALLOW),
		/* PRLIMIT: the target, then new_limit (NULL only reads) */ LOAD(ARG_LO(0)),
		IF_EQ(PRLIMIT + 1, 1, PRLIMIT + 2, ALLOW),
		LOAD(ARG_LO(2)),
		IF_EQ(PRLIMIT + 3, 0, PRLIMIT + 4, DENY),
		LOAD(ARG_HI(2)),
		IF_EQ(PRLIMIT + 5, 0, ALLOW, DENY),
		/* PRIO: which (a whole user), then who */ LOAD(ARG_LO(0)),
		IF_EQ(PRIO + 1, PRIO_USER, DENY, PRIO + 2),
		LOAD(ARG_LO(1)),
		IF_EQ(PRIO + 3, 1, DENY, ALLOW),
		/* IOPRIO: the same with IOPRIO_WHO_* (process 1, pgrp 2, user 3) */
		LOAD(ARG_LO(0)),
		IF_EQ(IOPRIO + 1, 3, DENY, IOPRIO + 2),
		LOAD(ARG_LO(1)),
		IF_EQ(IOPRIO + 3, 1, DENY, ALLOW),
		/* ALLOW */ RET(SECCOMP_RET_ALLOW),
		/* DENY */ RET(SECCOMP_RET_ERRNO | EPERM),
	};
	_Static_assert(sizeof prog / sizeof *prog == DENY + 1, "labels match the program");
	struct sock_fprog fprog = { .len = sizeof prog / sizeof *prog, .filter = prog };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog))
		die_step(EXIT_CORDON, "seccomp", "guard init", NULL, errno);
}
