/* proc_stat.h — the fields of /proc/PID/stat the launcher uses, read by one parser. The second
 * field is the command name in parentheses, which the process sets itself (prctl PR_SET_NAME,
 * the name of the file it executes): it may hold spaces, parentheses and ") S 1 (", so the
 * fields resume after the line's last ')', and every field is bounds-checked against the bytes
 * read, never assumed. */
#ifndef CORDON_PROC_STAT_H
#define CORDON_PROC_STAT_H

#include <stddef.h>

struct proc_stat {
	char state; /* field 3: R, S, D, Z, T... */
	long ppid; /* field 4 */
	unsigned long long start; /* field 22: start time, in clock ticks after boot */
};

/* Parses one line of len bytes (no NUL needed). 0, or -1 when it is not a whole stat line up
 * to field 22. */
int proc_stat_parse(const char *line, size_t len, struct proc_stat *out);

/* Reads and parses /proc/PID/stat. 0, or -1 when the process is gone (or the line is bad). */
int proc_stat_read(long pid, struct proc_stat *out);

/* The parent of pid, or -1 (gone, or unreadable). */
long proc_stat_parent(long pid);

/* A file holding one decimal number (ns_last_pid, a cgroup's pids.current), read from offset
 * 0 of fd, so that one open serves every read; -1 when it cannot be read. */
long proc_number_read(int fd);

#endif
