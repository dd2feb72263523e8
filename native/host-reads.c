/* A filed plan's host reads made again (host-reads.h). In JavaScript the check was ~4 ms of a
 * `cordon run` on its critical path (a Stats object per lstat, a Dirent and a decoded string per
 * name of /etc), made while the launcher waits for its go; here it is the system calls alone.
 *
 * Each answer is compared in the form host/reads.ts gives it, so that C confirms a read only
 * where Node's own call would give the same string: an lstat's `mode:uid[:nlink]` (the link
 * count for a regular file only), `=` and a link's target, `=` and a directory's names sorted by
 * strcmp (as libuv's scandir sorts them) and joined by NUL, a kind letter before each name
 * instead (`l` link, `d` directory, `f` anything else, the entry's own d_type or, where the file
 * system gives none, an lstat of it, as Node does), `=` and a file's bytes, and an error as `!`
 * and its name. The calls are Node's: an lstat is statx without AT_NO_AUTOMOUNT (libuv's; glibc's
 * lstat adds it, and saw an automount point's trigger where Node sees what is mounted there).
 * Whatever C cannot answer in that form (an error it has no name for, a name's kind it cannot
 * learn as Node would) is left unconfirmed, never guessed: JavaScript makes that read itself. */
#define _GNU_SOURCE
#include "host-reads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A value's tag in an answer (host/reads.ts `tagged`): it tells a link to `!ENOENT`, or a
 * directory holding only that name, from a failure. */
#define VALUE_TAG '='

struct bytes {
	const uint8_t *p;
	size_t n;
};

/* Node's code for an errno (libuv's uv_err_name), for the errors a read of the host can give;
 * NULL for the rest. */
static const char *error_name(int e)
{
	switch (e) {
	case ENOENT:
		return "ENOENT";
	case ENOTDIR:
		return "ENOTDIR";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case ELOOP:
		return "ELOOP";
	case ENAMETOOLONG:
		return "ENAMETOOLONG";
	case EINVAL:
		return "EINVAL";
	case EISDIR:
		return "EISDIR";
	case EIO:
		return "EIO";
	default:
		return NULL;
	}
}

static bool equal(struct bytes answer, const void *p, size_t n)
{
	return answer.n == n && (n == 0 || memcmp(answer.p, p, n) == 0);
}

/* 1 when `answer` is this errno's `!NAME`, 0 otherwise (an unnamed errno: not confirmed). */
static int same_error(struct bytes answer, int e)
{
	const char *name = error_name(e);
	if (!name || answer.n != strlen(name) + 1 || answer.p[0] != '!')
		return 0;
	return memcmp(answer.p + 1, name, answer.n - 1) == 0;
}

/* Node's lstat: libuv's statx, which follows no final link and does trigger an automount. */
static int node_lstat(int dir, const char *path, struct statx *st)
{
	return statx(dir, path, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		     STATX_TYPE | STATX_MODE | STATX_UID | STATX_NLINK, st);
}

static int same_lstat(const char *path, struct bytes answer)
{
	struct statx st;
	if (node_lstat(AT_FDCWD, path, &st))
		return same_error(answer, errno);
	const unsigned want = STATX_TYPE | STATX_MODE | STATX_UID | STATX_NLINK;
	if ((st.stx_mask & want) != want)
		return 0;
	char text[80];
	int n = S_ISREG(st.stx_mode)
			? snprintf(text, sizeof text, "%u:%u:%" PRIuMAX, (unsigned)st.stx_mode,
				   st.stx_uid, (uintmax_t)st.stx_nlink)
			: snprintf(text, sizeof text, "%u:%u", (unsigned)st.stx_mode, st.stx_uid);
	return n > 0 && (size_t)n < sizeof text && equal(answer, text, (size_t)n);
}

/* The answer's value after its tag, or false for an answer that is not a value. */
static bool tagged_value(struct bytes answer, struct bytes *v)
{
	if (answer.n == 0 || answer.p[0] != VALUE_TAG)
		return false;
	v->p = answer.p + 1;
	v->n = answer.n - 1;
	return true;
}

static int same_readlink(const char *path, struct bytes answer)
{
	struct bytes want = { answer.p, 0 };
	bool is_value = tagged_value(answer, &want);
	/* One byte more than the value: a longer target shows as longer. */
	char *buf = malloc(want.n + 1);
	if (!buf)
		return 0;
	ssize_t n = readlink(path, buf, want.n + 1);
	int same = n < 0 ? same_error(answer, errno) : is_value && equal(want, buf, (size_t)n);
	free(buf);
	return same;
}

static int same_text(const char *path, struct bytes answer)
{
	/* Without waiting: a FIFO put at a recorded path would hang the open (host/reads.ts reads
	 * only regular files, and fails the others as ENOTREG, a name C does not give). */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return same_error(answer, errno);
	struct stat st;
	if (fstat(fd, &st)) {
		close(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		int same = S_ISDIR(st.st_mode) ? same_error(answer, EISDIR) : 0;
		close(fd);
		return same;
	}
	struct bytes want = { answer.p, 0 };
	bool is_value = tagged_value(answer, &want);
	char *buf = malloc(want.n + 1);
	size_t got = 0;
	int same = 0;
	if (buf) {
		/* Up to one byte past the value, then the end of the file must follow. */
		for (;;) {
			ssize_t n = read(fd, buf + got, want.n + 1 - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				same = got == 0 ? same_error(answer, errno) : 0;
				break;
			}
			if (n == 0) {
				same = is_value && equal(want, buf, got);
				break;
			}
			got += (size_t)n;
			if (got > want.n)
				break;
		}
	}
	free(buf);
	close(fd);
	return same;
}

/* Whether path has a `..` component. Node learns a DT_UNKNOWN entry's kind by an lstat of
 * path.join(dir, name), which takes `..` away by the text (`/t/l/..` is `/t`), where the kernel
 * lists the directory the link leads to, up one: C, asking the directory it listed, would judge
 * other entries than Node. */
static bool has_dotdot(const char *path)
{
	for (const char *c = path; (c = strstr(c, "..")); c += 2)
		if ((c == path || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

struct name {
	char kind;
	char *s;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->s, ((const struct name *)b)->s);
}

/* A directory's entries, as Node's readdir gives them (with their kinds when `kinds`). */
static int same_dir(const char *path, struct bytes answer, bool kinds)
{
	DIR *d = opendir(path);
	if (!d)
		return same_error(answer, errno);
	/* A list of names is a tagged value; a list of entries starts with a kind letter. */
	if (!kinds && !tagged_value(answer, &answer)) {
		closedir(d);
		return 0;
	}
	struct name *names = NULL;
	size_t count = 0, cap = 0, total = 0;
	bool ok = true;
	struct dirent *e;
	errno = 0;
	while (ok && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t len = strlen(e->d_name);
		/* Longer than the answer already: it differs, whatever the order. */
		total += len + (kinds ? 1 : 0) + (count ? 1 : 0);
		if (total > answer.n) {
			ok = false;
			break;
		}
		char kind = 'f';
		unsigned char type = e->d_type;
		/* libuv knows these; any other (DT_WHT, a value a FUSE server made up) Node takes for
		 * unknown, and lstats. */
		if (type != DT_REG && type != DT_DIR && type != DT_LNK && type != DT_FIFO &&
		    type != DT_SOCK && type != DT_CHR && type != DT_BLK)
			type = DT_UNKNOWN;
		if (kinds && type == DT_UNKNOWN) {
			struct statx st;
			if (has_dotdot(path) || node_lstat(dirfd(d), e->d_name, &st) ||
			    !(st.stx_mask & STATX_TYPE)) {
				ok = false;
				break;
			}
			type = S_ISLNK(st.stx_mode)   ? DT_LNK
			       : S_ISDIR(st.stx_mode) ? DT_DIR
						      : DT_REG;
		}
		if (type == DT_LNK)
			kind = 'l';
		else if (type == DT_DIR)
			kind = 'd';
		if (count == cap) {
			size_t grown = cap ? cap * 2 : 64;
			struct name *more = realloc(names, grown * sizeof *names);
			if (!more) {
				ok = false;
				break;
			}
			names = more;
			cap = grown;
		}
		if (!(names[count].s = strdup(e->d_name))) {
			ok = false;
			break;
		}
		names[count++].kind = kind;
	}
	/* readdir's error: Node's readdir would have thrown; C does not confirm. */
	if (ok && errno)
		ok = false;
	closedir(d);
	int same = 0;
	if (ok && total == answer.n) {
		qsort(names, count, sizeof *names, by_name);
		size_t at = 0;
		same = 1;
		for (size_t i = 0; i < count && same; i++) {
			if (i && answer.p[at++] != '\0')
				same = 0;
			else if (kinds && answer.p[at++] != (uint8_t)names[i].kind)
				same = 0;
			else {
				size_t len = strlen(names[i].s);
				same = memcmp(answer.p + at, names[i].s, len) == 0;
				at += len;
			}
		}
	}
	for (size_t i = 0; i < count; i++)
		free(names[i].s);
	free(names);
	return same;
}

static bool take_u32(const uint8_t *in, size_t len, size_t *at, uint32_t *v)
{
	if (len - *at < 4)
		return false;
	*v = (uint32_t)in[*at] | (uint32_t)in[*at + 1] << 8 | (uint32_t)in[*at + 2] << 16 |
	     (uint32_t)in[*at + 3] << 24;
	*at += 4;
	return true;
}

static bool take_bytes(const uint8_t *in, size_t len, size_t *at, struct bytes *b)
{
	uint32_t n;
	if (!take_u32(in, len, at, &n) || len - *at < n)
		return false;
	b->p = in + *at;
	b->n = n;
	*at += n;
	return true;
}

static int same_read(uint8_t op, struct bytes path, struct bytes answer)
{
	/* A NUL in the path: Node refuses the string; C would read a shorter path. */
	if (op == HOST_READ_SKIP || path.n == 0 || memchr(path.p, 0, path.n))
		return 0;
	char *p = malloc(path.n + 1);
	if (!p)
		return 0;
	memcpy(p, path.p, path.n);
	p[path.n] = '\0';
	int same = 0;
	switch (op) {
	case HOST_READ_LSTAT:
		same = same_lstat(p, answer);
		break;
	case HOST_READ_READLINK:
		same = same_readlink(p, answer);
		break;
	case HOST_READ_READDIR:
		same = same_dir(p, answer, false);
		break;
	case HOST_READ_DIRENTS:
		same = same_dir(p, answer, true);
		break;
	case HOST_READ_TEXT:
		same = same_text(p, answer);
		break;
	default:
		break;
	}
	free(p);
	return same;
}

long host_reads_same(const uint8_t *in, size_t len, uint8_t *same, size_t n)
{
	if (n)
		memset(same, 0, n);
	/* A copy of its own: the caller's memory could change between the check and the reads (a
	 * Buffer over a SharedArrayBuffer that another thread writes). */
	uint8_t *own = malloc(len ? len : 1);
	if (!own)
		return -1;
	if (len)
		memcpy(own, in, len);
	/* The whole encoding is checked before any read is made. */
	size_t count = 0;
	for (size_t at = 0; at < len; count++) {
		struct bytes path, answer;
		at++;
		if (count == n || !take_bytes(own, len, &at, &path) ||
		    !take_bytes(own, len, &at, &answer)) {
			free(own);
			return -1;
		}
	}
	size_t at = 0;
	for (size_t i = 0; i < count; i++) {
		uint8_t op = own[at++];
		struct bytes path, answer;
		if (!take_bytes(own, len, &at, &path) || !take_bytes(own, len, &at, &answer))
			break; /* not reached: the copy was checked whole above */
		same[i] = (uint8_t)(same_read(op, path, answer) == 1);
	}
	free(own);
	return (long)count;
}
