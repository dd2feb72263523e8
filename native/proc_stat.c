/* proc_stat.c — /proc/PID/stat, parsed once (proc_stat.h). */
#define _GNU_SOURCE
#include "proc_stat.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A decimal number at *p, before end, ended by a space or the end; advances *p past it. */
static int number(const char **p, const char *end, unsigned long long max, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long n = 0;
	if (s == end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (s < end && *s != ' ' && *s != '\n')
		return -1;
	*p = s;
	*v = n;
	return 0;
}

int proc_stat_parse(const char *line, size_t len, struct proc_stat *out)
{
	const char *end = line + len;
	const char *p = memrchr(line, ')', len);
	/* ") S PPID": the state is one character between single spaces. */
	if (!p || end - p < 5 || p[1] != ' ' || p[3] != ' ')
		return -1;
	out->state = p[2];
	p += 4;
	unsigned long long v;
	if (number(&p, end, LONG_MAX, &v))
		return -1;
	out->ppid = (long)v;
	/* Fields 5 to 21 (some may be negative: priority, nice) are skipped, space by space. */
	for (int field = 5; field <= 21; field++) {
		if (p == end || *p != ' ')
			return -1;
		p++;
		const char *space = memchr(p, ' ', (size_t)(end - p));
		if (!space)
			return -1;
		p = space;
	}
	if (p == end || *p != ' ')
		return -1;
	p++;
	/* Field 23 follows: a start time cut short by the end of the buffer is no start time. */
	return number(&p, end, ~0ull, &out->start) || p == end || *p != ' ' ? -1 : 0;
}

int proc_stat_read(long pid, struct proc_stat *out)
{
	/* Field 22 ends within the first ~600 bytes (a name of at most 64 bytes, then numbers of at
	 * most 20 digits): a longer line is cut well after it. */
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	return n > 0 ? proc_stat_parse(buf, (size_t)n, out) : -1;
}

long proc_stat_parent(long pid)
{
	struct proc_stat st;
	return proc_stat_read(pid, &st) ? -1 : st.ppid;
}

long proc_number_read(int fd)
{
	char buf[32];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}
