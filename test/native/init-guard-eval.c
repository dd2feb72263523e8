/* test/native/init-guard.test.ts: native/init-guard.c's program, taken where it would be loaded
 * (built with -Dsyscall=taken) and run by native/bpf_eval.c on each stdin line
 * "ARCH NR ARG0 ARG1 ARG2" (numbers, any base); prints ALLOW, EPERM or OTHER per line, after
 * "check ok" or why bpf_check refused the program. */
#include "bpf_eval.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void init_guard_install(void);
void die_step(int status, const char *step, const char *path, const char *dest, int err);

static struct sock_filter prog[256];
static size_t n_prog;

long taken(long nr, ...);
long taken(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	(void)va_arg(ap, long); /* operation */
	(void)va_arg(ap, long); /* flags */
	const struct sock_fprog *p = va_arg(ap, const struct sock_fprog *);
	va_end(ap);
	if (p->len > sizeof prog / sizeof *prog)
		abort();
	memcpy(prog, p->filter, p->len * sizeof *prog);
	n_prog = p->len;
	return 0;
}

void die_step(int status, const char *step, const char *path, const char *dest, int err)
{
	(void)path;
	(void)dest;
	fprintf(stderr, "die %d %s %d\n", status, step, err);
	exit(2);
}

int main(void)
{
	init_guard_install();
	const char *why = bpf_check((const unsigned char *)prog, n_prog);
	printf("check %s\n", why ? why : "ok");
	unsigned long long arch, nr, a0, a1, a2;
	while (scanf("%lli %lli %lli %lli %lli", &arch, &nr, &a0, &a1, &a2) == 5) {
		struct seccomp_data d;
		memset(&d, 0, sizeof d);
		d.arch = (unsigned)arch;
		d.nr = (int)nr;
		d.args[0] = a0;
		d.args[1] = a1;
		d.args[2] = a2;
		unsigned r = bpf_run((const unsigned char *)prog, n_prog, (const unsigned char *)&d);
		printf("%s\n", r == SECCOMP_RET_ALLOW		     ? "ALLOW"
			       : r == (SECCOMP_RET_ERRNO | EPERM) ? "EPERM"
								  : "OTHER");
	}
	return 0;
}
