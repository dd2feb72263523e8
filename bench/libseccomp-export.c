/* libseccomp-export: builds a filter with libseccomp from cordon's per-syscall decisions and
 * writes the BPF, so bench/seccomp.mjs can compare instruction counts on the same policy.
 *   libseccomp-export tree|linear OUT < decisions
 * stdin: the default action, then lines `NAME ACTION [INDEX OP VALUE MASK]...`;
 * ACTION is allow, errno:N, kill-process, kill-thread, trap or log. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t action(const char *s)
{
	if (strncmp(s, "errno:", 6) == 0)
		return SCMP_ACT_ERRNO((uint16_t)atoi(s + 6));
	if (strcmp(s, "kill-process") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(s, "kill-thread") == 0)
		return SCMP_ACT_KILL_THREAD;
	if (strcmp(s, "trap") == 0)
		return SCMP_ACT_TRAP;
	if (strcmp(s, "log") == 0)
		return SCMP_ACT_LOG;
	return SCMP_ACT_ALLOW;
}

static enum scmp_compare op(const char *s)
{
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "eq", SCMP_CMP_EQ }, { "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE },
		{ "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE }, { "masked-eq", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (strcmp(s, ops[i].name) == 0)
			return ops[i].op;
	return SCMP_CMP_EQ;
}

int main(int argc, char **argv)
{
	char line[4096], *save;
	if (argc != 3 || !fgets(line, sizeof line, stdin))
		return 2;
	line[strcspn(line, "\n")] = 0;
	uint32_t def = action(line);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx || seccomp_arch_add(ctx, SCMP_ARCH_X86) < 0)
		return 1;
	if (strcmp(argv[1], "tree") == 0 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0)
		return 1;
	int added = 0, skipped = 0;
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *name = strtok_r(line, " ", &save), *act = strtok_r(NULL, " ", &save);
		if (!name || !act)
			continue;
		int nr = seccomp_syscall_resolve_name(name);
		uint32_t a = action(act);
		struct scmp_arg_cmp cmp[6];
		unsigned n = 0;
		char *idx;
		while (n < 6 && (idx = strtok_r(NULL, " ", &save))) {
			char *o = strtok_r(NULL, " ", &save), *v = strtok_r(NULL, " ", &save), *m = strtok_r(NULL, " ", &save);
			if (!o || !v || !m)
				break;
			enum scmp_compare c = op(o);
			uint64_t value = strtoull(v, NULL, 0), mask = strtoull(m, NULL, 0);
			cmp[n++] = (struct scmp_arg_cmp){ (unsigned)atoi(idx), c, c == SCMP_CMP_MASKED_EQ ? mask : value,
							 c == SCMP_CMP_MASKED_EQ ? value : 0 };
		}
		if (nr == __NR_SCMP_ERROR || (a == def && n == 0) || seccomp_rule_add_array(ctx, a, nr, n, cmp) < 0)
			skipped++;
		else
			added++;
	}
	int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0)
		return 1;
	fprintf(stderr, "libseccomp-export: %d rules added, %d skipped\n", added, skipped);
	seccomp_release(ctx);
	return 0;
}
