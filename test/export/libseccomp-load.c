/* libseccomp-load: builds a filter from an OCI seccomp profile the way runc 1.1 does
 * (libcontainer/seccomp/seccomp_linux.go matchCall) and writes its BPF, so the tests can run
 * libseccomp's own program next to cordon's.
 *   libseccomp-load OUT < rules
 * stdin: the default action; the architectures (libseccomp names); then one line per syscall
 * name of a rule: `NAME ACTION [INDEX OP VALUE VALUETWO]...`. ACTION is allow, errno:N, trace:N,
 * kill-process, kill-thread, trap or log. As runc: a rule with the default action is skipped
 * (libseccomp refuses it), an unknown name is skipped and listed on stdout, any other error
 * fails. */
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
	if (strncmp(s, "trace:", 6) == 0)
		return SCMP_ACT_TRACE((uint16_t)atoi(s + 6));
	if (strcmp(s, "kill-process") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(s, "kill-thread") == 0)
		return SCMP_ACT_KILL_THREAD;
	if (strcmp(s, "trap") == 0)
		return SCMP_ACT_TRAP;
	if (strcmp(s, "log") == 0)
		return SCMP_ACT_LOG;
	if (strcmp(s, "allow") == 0)
		return SCMP_ACT_ALLOW;
	fprintf(stderr, "libseccomp-load: unknown action %s\n", s);
	exit(2);
}

static enum scmp_compare op(const char *s)
{
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_GT", SCMP_CMP_GT }, { "SCMP_CMP_GE", SCMP_CMP_GE },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (strcmp(s, ops[i].name) == 0)
			return ops[i].op;
	fprintf(stderr, "libseccomp-load: unknown operator %s\n", s);
	exit(2);
}

static char line[1 << 16];

int main(int argc, char **argv)
{
	char *save;
	if (argc != 2 || !fgets(line, sizeof line, stdin))
		return 2;
	line[strcspn(line, "\n")] = 0;
	uint32_t def = action(line);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx || !fgets(line, sizeof line, stdin))
		return 1;
	line[strcspn(line, "\n")] = 0;
	for (char *a = strtok_r(line, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
		uint32_t arch = seccomp_arch_resolve_name(a);
		int rc = arch ? seccomp_arch_add(ctx, arch) : -1;
		if (rc < 0 && rc != -EEXIST) {
			fprintf(stderr, "libseccomp-load: arch %s: %d\n", a, rc);
			return 1;
		}
	}
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *name = strtok_r(line, " ", &save), *act = strtok_r(NULL, " ", &save);
		if (!name || !act)
			continue;
		uint32_t a = action(act);
		if (a == def)
			continue;
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			printf("%s\n", name);
			continue;
		}
		struct scmp_arg_cmp cmp[6];
		unsigned n = 0;
		char *idx;
		while (n < 6 && (idx = strtok_r(NULL, " ", &save))) {
			char *o = strtok_r(NULL, " ", &save), *v = strtok_r(NULL, " ", &save),
			     *w = strtok_r(NULL, " ", &save);
			if (!o || !v || !w)
				return 2;
			cmp[n++] = (struct scmp_arg_cmp){ (unsigned)atoi(idx), op(o), strtoull(v, NULL, 0),
							 strtoull(w, NULL, 0) };
		}
		int rc = seccomp_rule_add_array(ctx, a, nr, n, cmp);
		if (rc < 0) {
			fprintf(stderr, "libseccomp-load: rule for %s refused: %s\n", name, strerror(-rc));
			return 1;
		}
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0)
		return 1;
	close(fd);
	seccomp_release(ctx);
	return 0;
}
