/* test/native/proc-stat.test.ts: native/proc_stat.c's parser on the bytes of stdin, exactly as
 * many as were given (no NUL added). Prints "STATE PPID START" or "bad". */
#include "proc_stat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (ssize_t r; buf && n < cap && (r = read(0, buf + n, cap - n)) > 0;)
		n += (size_t)r;
	/* An exact-size copy: ASan sees any read past the given bytes. */
	char *line = malloc(n ? n : 1);
	struct proc_stat st;
	if (!buf || !line)
		return 2;
	memcpy(line, buf, n);
	if (proc_stat_parse(line, n, &st))
		printf("bad\n");
	else
		printf("%c %ld %llu\n", st.state, st.ppid, st.start);
	free(line);
	free(buf);
	return 0;
}
