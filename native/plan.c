/* plan.c — bounds-checked decoder for the plan format described in plan.h. Pure: no I/O. */
#define _GNU_SOURCE
#include "plan.h"

#include "bpf_eval.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define KNOWN_CLONE_FLAGS                                                                          \
	(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
	 CLONE_NEWCGROUP | CLONE_NEWTIME)

struct reader {
	const uint8_t *p;
	size_t left;
};

static int rd_u32(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	     (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int rd_u16(struct reader *r, uint16_t *v)
{
	if (r->left < 2)
		return -1;
	*v = (uint16_t)(r->p[0] | r->p[1] << 8);
	r->p += 2;
	r->left -= 2;
	return 0;
}

static int rd_u64(struct reader *r, uint64_t *v)
{
	uint32_t lo, hi;
	if (rd_u32(r, &lo) || rd_u32(r, &hi))
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int rd_blob(struct reader *r, const uint8_t **data, uint32_t *n)
{
	if (rd_u32(r, n) || *n > r->left)
		return -1;
	*data = r->p;
	r->p += *n;
	r->left -= *n;
	return 0;
}

/* A string is [u32 n][n bytes][NUL]: non-empty, no interior NUL, at most max bytes. */
static int rd_str_max(struct reader *r, const char **s, uint32_t max)
{
	uint32_t n;
	if (rd_u32(r, &n) || n == 0 || n > max || (size_t)n + 1 > r->left)
		return -1;
	if (r->p[n] != 0 || memchr(r->p, 0, n) != NULL)
		return -1;
	*s = (const char *)r->p;
	r->p += (size_t)n + 1;
	r->left -= (size_t)n + 1;
	return 0;
}

static int rd_str(struct reader *r, const char **s)
{
	return rd_str_max(r, s, PLAN_MAX_STRING);
}

const char *plan_op_name(uint16_t code)
{
	switch (code) {
	case OP_NAMESPACES:
		return "namespaces";
	case OP_UID_MAP:
		return "uid_map";
	case OP_GID_MAP:
		return "gid_map";
	case OP_DIE_WITH_PARENT:
		return "die_with_parent";
	case OP_INIT:
		return "init";
	case OP_KEEP_FD:
		return "keep_fd";
	case OP_ENV_SET:
		return "env_set";
	case OP_ENV_PASS:
		return "env_pass";
	case OP_EXEC_ARG:
		return "exec_arg";
	case OP_CGROUP:
		return "cgroup";
	case OP_SETNS:
		return "setns";
	case OP_CGROUP_DEVICES:
		return "cgroup_devices";
	case OP_ENTER_ROOT:
		return "enter_root";
	case OP_ROOT:
		return "root";
	case OP_BIND:
		return "bind";
	case OP_TMPFS:
		return "tmpfs";
	case OP_PROC:
		return "proc";
	case OP_DEVPTS:
		return "devpts";
	case OP_MKDIR:
		return "mkdir";
	case OP_SYMLINK:
		return "symlink";
	case OP_FILE:
		return "file";
	case OP_REMOUNT_RO:
		return "remount_ro";
	case OP_PIVOT:
		return "pivot_root";
	case OP_FSMOUNT:
		return "fsmount";
	case OP_MKNOD:
		return "mknod";
	case OP_PROPAGATION:
		return "propagation";
	case OP_HOSTNAME:
		return "hostname";
	case OP_LOOPBACK:
		return "loopback";
	case OP_RLIMIT:
		return "rlimit";
	case OP_CHDIR:
		return "chdir";
	case OP_SETSID:
		return "setsid";
	case OP_IDS:
		return "ids";
	case OP_CAPS:
		return "caps";
	case OP_NO_NEW_PRIVS:
		return "no_new_privs";
	case OP_LANDLOCK:
		return "landlock";
	case OP_LANDLOCK_PATH:
		return "landlock_path";
	case OP_LANDLOCK_PORT:
		return "landlock_port";
	case OP_LANDLOCK_RESTRICT:
		return "landlock_restrict";
	case OP_SECCOMP:
		return "seccomp";
	case OP_SECCOMP_NOTIFY:
		return "seccomp_notify";
	case OP_SECCOMP_TRACE:
		return "seccomp_trace";
	case OP_LEAVE_MOUNT_NS:
		return "leave_mount_ns";
	case OP_HOOK:
		return "hook";
	case OP_HOOK_ARG:
		return "hook_arg";
	case OP_HOOK_ENV:
		return "hook_env";
	case OP_START_HOOK:
		return "start_hook";
	case OP_START_HOOK_ARG:
		return "start_hook_arg";
	case OP_START_HOOK_ENV:
		return "start_hook_env";
	default:
		return "unknown";
	}
}

static int is_abs_path(const char *s)
{
	return s[0] == '/';
}

/* Decodes one record body; returns NULL or the reason it is malformed. */
static const char *decode_body(struct plan_op_rec *op, struct reader *r, struct plan *p)
{
	switch (op->code) {
	case OP_NAMESPACES:
		if (rd_u32(r, &op->a))
			return "truncated";
		if (op->a & ~(uint32_t)KNOWN_CLONE_FLAGS)
			return "unknown namespace flags";
		if (p->clone_flags)
			return "namespaces given twice";
		p->clone_flags = op->a;
		return NULL;
	case OP_UID_MAP:
	case OP_GID_MAP:
		if (rd_u32(r, &op->a) || rd_u32(r, &op->b) || rd_u32(r, &op->c))
			return "truncated";
		if (op->c == 0 || (uint64_t)op->a + op->c > 0xffffffffull)
			return "id range is empty or overflows";
		p->has_userns_maps = 1;
		return NULL;
	case OP_DIE_WITH_PARENT:
		p->die_with_parent = 1;
		return NULL;
	case OP_INIT:
		p->has_init = 1;
		return NULL;
	case OP_LEAVE_MOUNT_NS:
		if (p->leave_mount)
			return "given twice";
		p->leave_mount = 1;
		return NULL;
	case OP_NO_NEW_PRIVS:
	case OP_PIVOT:
	case OP_LOOPBACK:
	case OP_SETSID:
		return NULL;
	case OP_KEEP_FD:
		if (rd_u32(r, &op->a))
			return "truncated";
		return op->a < 3 || op->a > (1u << 20) ? "fd must be between 3 and 1048576" : NULL;
	case OP_ENV_SET:
		if (rd_str_max(r, &op->s1, PLAN_MAX_EXEC_STRING))
			return "bad string";
		return strchr(op->s1, '=') && op->s1[0] != '=' ? NULL : "expected NAME=value";
	case OP_ENV_PASS:
		if (rd_str(r, &op->s1))
			return "bad string";
		return strchr(op->s1, '=') ? "a variable name cannot contain '='" : NULL;
	case OP_EXEC_ARG:
	case OP_HOSTNAME:
		if (rd_str_max(r, &op->s1,
			       op->code == OP_EXEC_ARG ? PLAN_MAX_EXEC_STRING : PLAN_MAX_STRING))
			return "bad string";
		return op->code == OP_HOSTNAME && strlen(op->s1) > 64 ? "hostname over 64 bytes"
								      : NULL;
	case OP_CGROUP_DEVICES:
		if (rd_str(r, &op->s1) || rd_blob(r, &op->blob, &op->blob_len))
			return "truncated or bad string";
		if (op->blob_len == 0 || op->blob_len % 8 != 0 || op->blob_len / 8 > 4096)
			return "eBPF length must be a non-zero multiple of 8, at most 4096 "
			       "instructions";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_ENTER_ROOT:
		if (rd_str(r, &op->s1))
			return "bad string";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_CGROUP:
	case OP_PROC:
	case OP_DEVPTS:
	case OP_REMOUNT_RO:
	case OP_CHDIR:
		if (rd_str(r, &op->s1))
			return "bad string";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_SETNS:
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1))
			return "truncated or bad string";
		if ((op->a & ~(uint32_t)KNOWN_CLONE_FLAGS) || __builtin_popcount(op->a) != 1)
			return "expected one namespace type";
		if (op->a == CLONE_NEWNS)
			p->joins_mount = 1;
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_FSMOUNT:
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1) || rd_str(r, &op->s2) ||
		    rd_blob(r, &op->blob, &op->blob_len))
			return "truncated or bad string";
		if (op->a & ~(uint32_t)FSMOUNT_ATTRS_KNOWN)
			return "unknown mount attributes";
		if (op->blob_len && op->blob[op->blob_len - 1] != 0)
			return "options must end with NUL";
		return is_abs_path(op->s2) ? NULL : "path must be absolute";
	case OP_MKNOD: {
		if (rd_u32(r, &op->a) || rd_u64(r, &op->x) || rd_u32(r, &op->b) ||
		    rd_u32(r, &op->c) || rd_str(r, &op->s1))
			return "truncated or bad string";
		uint32_t type = op->a & S_IFMT;
		if ((type != S_IFCHR && type != S_IFBLK && type != S_IFIFO) ||
		    (op->a & ~(uint32_t)(S_IFMT | 0777)))
			return "mode must be a character, block or FIFO node with permissions 0777 "
			       "at most";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	}
	case OP_PROPAGATION: {
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1))
			return "truncated or bad string";
		uint32_t type = op->a & ~(uint32_t)MS_REC;
		if (type != MS_SHARED && type != MS_SLAVE && type != MS_PRIVATE &&
		    type != MS_UNBINDABLE)
			return "expected one propagation type";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	}
	case OP_ROOT:
		if (rd_u32(r, &op->a))
			return "truncated";
		if (p->has_root)
			return "root given twice";
		p->has_root = 1;
		return op->a > 07777 ? "mode out of range" : NULL;
	case OP_BIND:
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1) || rd_str(r, &op->s2))
			return "truncated or bad string";
		if (op->a & ~(uint32_t)BIND_KNOWN)
			return "unknown bind flags";
		return is_abs_path(op->s1) && is_abs_path(op->s2) ? NULL : "paths must be absolute";
	case OP_TMPFS:
		if (rd_u64(r, &op->x) || rd_u32(r, &op->a) || rd_u32(r, &op->b) ||
		    rd_str(r, &op->s1))
			return "truncated or bad string";
		if (op->a > 07777 || (op->b & ~(uint32_t)BIND_KNOWN))
			return "mode or flags out of range";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_MKDIR:
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1))
			return "truncated or bad string";
		if (op->a > 07777)
			return "mode out of range";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_SYMLINK:
		if (rd_str(r, &op->s1) || rd_str(r, &op->s2))
			return "truncated or bad string";
		return is_abs_path(op->s2) ? NULL : "link path must be absolute";
	case OP_FILE:
		if (rd_u32(r, &op->a) || rd_str(r, &op->s1) || rd_blob(r, &op->blob, &op->blob_len))
			return "truncated or bad string";
		if (op->a > 07777)
			return "mode out of range";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_RLIMIT:
		if (rd_u32(r, &op->a) || rd_u64(r, &op->x) || rd_u64(r, &op->y))
			return "truncated";
		if (op->a >= RLIM_NLIMITS)
			return "unknown resource";
		return op->x > op->y ? "soft limit above hard limit" : NULL;
	case OP_IDS:
		if (rd_u32(r, &op->a) || rd_u32(r, &op->b) || rd_u32(r, &op->c))
			return "truncated";
		if (op->c & ~(IDS_SETGROUPS | IDS_GROUPS))
			return "unknown ids flags";
		if (!(op->c & IDS_GROUPS))
			return NULL;
		if (!(op->c & IDS_SETGROUPS) || rd_blob(r, &op->blob, &op->blob_len))
			return "a group list needs setgroups and its blob";
		return op->blob_len % 4 || op->blob_len / 4 > IDS_GROUPS_MAX
			       ? "group list must be 0-64 u32 gids"
			       : NULL;
	case OP_CAPS:
		if (rd_u64(r, &op->x) || rd_u64(r, &op->y))
			return "truncated";
		return op->y & ~CAPS_HOLD_KNOWN ? "only CAP_SYS_ADMIN can be held until execve"
						: NULL;
	case OP_SECCOMP:
		if (rd_u32(r, &op->a) || rd_blob(r, &op->blob, &op->blob_len))
			return "truncated";
		if (op->blob_len == 0 || op->blob_len % 8 != 0 || op->blob_len / 8 > 4096)
			return "BPF length must be a non-zero multiple of 8, at most 4096 "
			       "instructions";
		return op->a & ~(SECCOMP_FLAGS_KNOWN | SECCOMP_FLAG_GUARDS_INIT)
			       ? "unknown seccomp flags"
			       : NULL;
	case OP_SECCOMP_NOTIFY:
		if (rd_blob(r, &op->blob, &op->blob_len))
			return "truncated";
		if (op->blob_len % 8 != 0)
			return "BPF length must be a multiple of 8";
		return bpf_check(op->blob, op->blob_len / 8);
	case OP_LANDLOCK: {
		uint32_t n;
		if (rd_u32(r, &op->a) || rd_u32(r, &op->b) || rd_u64(r, &op->x) || rd_u32(r, &n))
			return "truncated";
		if (op->a != 0)
			return "unknown landlock flags";
		if (n == 0 || n > LL_ABI_ROWS_MAX || (size_t)n * 28 != r->left)
			return "the ABI table must have 1-16 rows of 28 bytes";
		op->c = n;
		op->blob = r->p; /* rows, read with plan_landlock_row() */
		op->blob_len = n * 28;
		r->p += r->left;
		r->left = 0;
		return NULL;
	}
	case OP_LANDLOCK_PATH:
		if (rd_u32(r, &op->a) || rd_u64(r, &op->x) || rd_str(r, &op->s1))
			return "truncated or bad string";
		if (op->a & ~(LL_RULE_OPTIONAL | LL_RULE_NOFOLLOW))
			return "unknown rule flags";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_LANDLOCK_PORT:
		if (rd_u64(r, &op->x) || rd_u64(r, &op->y))
			return "truncated";
		return op->y > 65535 ? "port above 65535" : NULL;
	case OP_LANDLOCK_RESTRICT:
		return NULL;
	case OP_HOOK:
	case OP_START_HOOK:
		if (rd_u32(r, &op->a) || rd_u32(r, &op->b) || rd_str(r, &op->s1) ||
		    rd_blob(r, &op->blob, &op->blob_len))
			return "truncated or bad string";
		if (op->b & ~HOOK_STATE_PID)
			return "unknown hook flags";
		if (op->blob_len > 65536)
			return "the state on stdin is over 64 KiB";
		if ((op->b & HOOK_STATE_PID) && (op->blob_len < 2 || op->blob[0] != '{'))
			return "a state taking the pid must be a JSON object with a member";
		return is_abs_path(op->s1) ? NULL : "path must be absolute";
	case OP_HOOK_ARG:
	case OP_START_HOOK_ARG:
		return rd_str(r, &op->s1) ? "bad string" : NULL;
	case OP_HOOK_ENV:
	case OP_START_HOOK_ENV:
		if (rd_str(r, &op->s1))
			return "bad string";
		return strchr(op->s1, '=') && op->s1[0] != '=' ? NULL : "expected NAME=value";
	case OP_SECCOMP_TRACE:
		if (p->trace)
			return "given twice";
		p->trace = 1;
		return NULL;
	default:
		return "unknown op";
	}
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Cross-record rules the launcher relies on. */
static int check_structure(struct plan *p, char *err, size_t err_len)
{
	int in_fs = 0, pivoted = 0;
	for (size_t i = 0; i < p->n_ops; i++) {
		uint16_t c = p->ops[i].code;
		if (c == OP_ROOT)
			in_fs = 1;
		else if (c == OP_PIVOT) {
			if (!in_fs || pivoted)
				return fail(err, err_len,
					    "plan: pivot_root without a preceding root");
			pivoted = 1;
			in_fs = 0;
		} else if ((c >> 4) == 1 && !in_fs)
			return fail(err, err_len, "plan: record %zu (%s) outside root..pivot_root",
				    i, plan_op_name(c));
	}
	if (in_fs)
		return fail(err, err_len, "plan: root without pivot_root");
	for (size_t i = 0; i < p->n_ops; i++) {
		/* The hook codes of a phase are consecutive: HOOK, HOOK_ARG, HOOK_ENV. */
		uint16_t c = p->ops[i].code, prev = i ? p->ops[i - 1].code : 0;
		uint16_t head = c == OP_HOOK_ARG || c == OP_HOOK_ENV		   ? OP_HOOK
				: c == OP_START_HOOK_ARG || c == OP_START_HOOK_ENV ? OP_START_HOOK
										   : 0;
		if (head && (prev < head || prev > head + 2))
			return fail(err, err_len, "plan: record %zu (%s) does not follow a hook", i,
				    plan_op_name(c));
	}
	int ruleset = 0, restricted = 0;
	for (size_t i = 0; i < p->n_ops; i++) {
		uint16_t c = p->ops[i].code;
		if (c == OP_LANDLOCK) {
			if (ruleset)
				return fail(err, err_len, "plan: landlock given twice");
			ruleset = 1;
		} else if ((c == OP_LANDLOCK_PATH || c == OP_LANDLOCK_PORT) &&
			   (!ruleset || restricted)) {
			return fail(err, err_len,
				    "plan: record %zu (%s) outside landlock..landlock_restrict", i,
				    plan_op_name(c));
		} else if (c == OP_LANDLOCK_RESTRICT) {
			if (!ruleset || restricted)
				return fail(err, err_len,
					    "plan: landlock_restrict without landlock");
			restricted = 1;
		}
	}
	if (ruleset && !restricted)
		return fail(err, err_len, "plan: landlock without landlock_restrict");
	int listeners = 0, responders = 0;
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code == OP_SECCOMP && (p->ops[i].a & SECCOMP_FLAG_LISTENER))
			listeners++;
		if (p->ops[i].code == OP_SECCOMP && (p->ops[i].a & SECCOMP_FLAG_GUARDS_INIT))
			p->guards_init = 1;
		if (p->ops[i].code == OP_SECCOMP_NOTIFY) {
			responders++;
			p->responder = &p->ops[i];
		}
	}
	if (listeners > 1 || responders != listeners)
		return fail(err, err_len,
			    "plan: a seccomp_notify responder goes with exactly one listening "
			    "seccomp filter");
	if (p->trace && !p->responder)
		return fail(err, err_len, "plan: seccomp_trace needs a seccomp_notify responder");
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].code != OP_ENTER_ROOT)
			continue;
		if (p->enter_root)
			return fail(err, err_len, "plan: enter_root given twice");
		p->enter_root = &p->ops[i];
	}
	/* The root is entered after the mount namespace is joined, instead of building a view. */
	if (p->enter_root && (!p->joins_mount || p->has_root))
		return fail(
			err, err_len,
			"plan: enter_root needs a joined mount namespace and no filesystem view");
	if (p->has_root && !(p->clone_flags & CLONE_NEWNS) == !p->joins_mount)
		return fail(err, err_len,
			    "plan: a filesystem view needs one mount namespace, new or joined");
	if (p->leave_mount && (!p->has_root || (p->clone_flags & CLONE_NEWUSER)))
		return fail(err, err_len,
			    "plan: leave_mount_ns needs a view, and no new user namespace (which "
			    "could not go back)");
	if (p->has_userns_maps && !(p->clone_flags & CLONE_NEWUSER))
		return fail(err, err_len, "plan: id maps need the user namespace");
	if ((p->clone_flags & CLONE_NEWTIME) && !p->has_init)
		return fail(err, err_len, "plan: the time namespace needs init");
	if (p->has_init && !(p->clone_flags & (CLONE_NEWPID | CLONE_NEWTIME)))
		return fail(err, err_len, "plan: init needs a pid or time namespace");
	return 0;
}

int plan_decode(const uint8_t *buf, size_t len, struct plan *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof *out);
	if (len < PLAN_HEADER_SIZE || memcmp(buf, PLAN_MAGIC, 4) != 0)
		return fail(err, err_len, "not a cordon plan (bad magic)");
	struct reader r = { buf + 4, len - 4 };
	uint16_t version, hflags;
	uint32_t payload;
	rd_u16(&r, &version);
	rd_u16(&r, &hflags);
	rd_u32(&r, &payload);
	if (version != PLAN_VERSION)
		return fail(err, err_len,
			    "plan version %u, this launcher reads version %u: recompile the plan "
			    "with the matching cordon",
			    version, PLAN_VERSION);
	if (hflags != 0)
		return fail(err, err_len, "plan: unknown header flags 0x%x", hflags);
	if (len > PLAN_MAX_SIZE || payload != r.left)
		return fail(
			err, err_len,
			"plan: payload length %u does not match the %zu bytes present (truncated?)",
			payload, r.left);

	size_t cap = 0;
	int last_phase = 0;
	while (r.left > 0) {
		size_t offset = len - r.left;
		uint16_t code, flags;
		uint32_t blen;
		if (rd_u16(&r, &code) || rd_u16(&r, &flags) || rd_u32(&r, &blen) || blen > r.left) {
			plan_free(out);
			return fail(err, err_len, "plan: record header at offset %zu is truncated",
				    offset);
		}
		if (out->n_ops >= PLAN_MAX_OPS) {
			plan_free(out);
			return fail(err, err_len, "plan: more than %u records", PLAN_MAX_OPS);
		}
		if (out->n_ops == cap) {
			cap = cap ? cap * 2 : 64;
			struct plan_op_rec *grown = realloc(out->ops, cap * sizeof *grown);
			if (!grown) {
				plan_free(out);
				return fail(err, err_len, "plan: out of memory");
			}
			out->ops = grown;
		}
		struct plan_op_rec *op = &out->ops[out->n_ops];
		memset(op, 0, sizeof *op);
		op->code = code;
		struct reader body = { r.p, blen };
		const char *why = flags ? "unknown record flags" : decode_body(op, &body, out);
		if (!why && body.left != 0)
			why = "trailing bytes in record";
		if (!why && (code >> 4) < last_phase)
			why = "out of order (phases must not go back)";
		if (why) {
			plan_free(out);
			return fail(err, err_len, "plan: record %zu (%s) at offset %zu: %s",
				    out->n_ops, plan_op_name(code), offset, why);
		}
		last_phase = code >> 4;
		r.p += blen;
		r.left -= blen;
		out->n_ops++;
	}
	if (check_structure(out, err, err_len)) {
		plan_free(out);
		return -1;
	}
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->ops);
	p->ops = NULL;
	p->n_ops = 0;
}

void plan_landlock_row(const struct plan_op_rec *op, uint32_t abi, struct landlock_row *row)
{
	uint32_t i = (abi > op->c ? op->c : abi) - 1;
	struct reader r = { op->blob + (size_t)i * 28, 28 };
	rd_u64(&r, &row->fs);
	rd_u64(&r, &row->net);
	rd_u64(&r, &row->scoped);
	rd_u32(&r, &row->restrict_flags);
}
