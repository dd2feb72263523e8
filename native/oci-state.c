/* oci-state.c — the container record, its status and `state`'s JSON (oci-state.h). */
#define _GNU_SOURCE
#include "oci-state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* state.ts OCI_VERSION; test/oci-runtime/fast-path.test.ts compares both runtimes' output. */
#define OCI_VERSION "1.2.0"
/* A record larger than this is not one create wrote (annotations included): left to Node. */
#define MAX_RECORD (16 << 20)
/* Annotations the fast path reads itself; more go to Node (take_annotations). */
#define MAX_FAST_ANNOTATIONS 1024

/* One path (absolute, normalised) judged as state.ts checkParents' judge(): every existing
 * prefix owned by root or uid, and not writable by others unless sticky (or a link). */
static int judge(const char *path, uid_t uid)
{
	size_t n = strlen(path);
	char *at = malloc(n + 1);
	if (!at)
		return -1;
	int ok = 0;
	/* "/", then each prefix ending before a slash, then the whole path */
	for (size_t i = 0; i <= n && !ok; i++) {
		if (i > 0 && i < n && path[i] != '/')
			continue;
		if (i == n && n == 1)
			break; /* the path is "/", judged at i = 0 */
		size_t len = i == 0 ? 1 : i;
		memcpy(at, path, len);
		at[len] = 0;
		struct stat st;
		if (lstat(at, &st))
			break; /* missing from here on: nothing to judge */
		if (st.st_uid != 0 && st.st_uid != uid)
			ok = -1;
		else if (!S_ISLNK(st.st_mode) && (st.st_mode & 022) && !(st.st_mode & S_ISVTX))
			ok = -1;
	}
	free(at);
	return ok;
}

/* path.resolve(root) then dirname(): lexical, against the working directory. */
static char *resolved_parent(const char *root)
{
	char cwd[PATH_MAX];
	if (root[0] != '/' && !getcwd(cwd, sizeof cwd))
		return NULL;
	size_t n = (root[0] == '/' ? 0 : strlen(cwd) + 1) + strlen(root) + 2;
	char *full = malloc(n), *out = malloc(n);
	if (!full || !out) {
		free(full);
		free(out);
		return NULL;
	}
	snprintf(full, n, "%s%s%s", root[0] == '/' ? "" : cwd, root[0] == '/' ? "" : "/", root);
	size_t len = 0;
	for (char *save = NULL, *part = strtok_r(full, "/", &save); part;
	     part = strtok_r(NULL, "/", &save)) {
		if (!strcmp(part, "."))
			continue;
		if (!strcmp(part, "..")) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash before the dropped part */
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, part, strlen(part));
		len += strlen(part);
	}
	free(full);
	/* dirname: drop the last part */
	while (len > 0 && out[len - 1] != '/')
		len--;
	if (len > 0)
		len--;
	if (len == 0)
		out[len++] = '/';
	out[len] = 0;
	return out;
}

int oci_check_root(const char *root)
{
	uid_t uid = geteuid();
	char *parent = resolved_parent(root);
	if (!parent)
		return -1;
	int ok = judge(parent, uid);
	char *real = ok ? NULL : realpath(parent, NULL);
	if (real && strcmp(real, parent))
		ok = judge(real, uid);
	free(real);
	free(parent);
	if (ok)
		return -1;
	struct stat st;
	if (lstat(root, &st))
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
		return -1;
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *data = NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto out;
	if (st.st_size > MAX_RECORD) {
		errno = EFBIG; /* left to Node, never read as "missing" */
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		goto out;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r == 0 && got == 0 && st.st_size > 0)) {
			free(data);
			data = NULL;
			goto out;
		}
		if (r == 0 || (got += (size_t)r) > (size_t)st.st_size)
			break; /* grew while read: read() ends at st_size + 1 */
	}
	if (got > (size_t)st.st_size) {
		free(data);
		data = NULL;
		goto out;
	}
	data[got] = 0;
	*len = got;
out:
	close(fd);
	return data;
}

struct reader {
	const struct json_doc *d;
	int bad;
};

static void take_str(struct reader *rd, size_t i, struct oci_str *out, int path)
{
	if (out->s || json_string(rd->d, i, &out->s, &out->n) ||
	    (path && memchr(out->s, 0, out->n)))
		rd->bad = 1;
}

/* Keys JavaScript orders first (array indices) would print in another order: left to Node. */
static int index_like(const struct oci_str *k)
{
	if (k->n == 0 || k->n > 10 || (k->n > 1 && k->s[0] == '0'))
		return 0;
	for (size_t i = 0; i < k->n; i++)
		if (k->s[i] < '0' || k->s[i] > '9')
			return 0;
	return strtoull(k->s, NULL, 10) <= 4294967294ULL;
}

static void take_annotations(struct reader *rd, size_t i, struct oci_record *r)
{
	const struct json_tok *t = &rd->d->toks[i];
	/* The duplicate check below is quadratic; engines set a few dozen. A record with more
	 * (the engine's config decides) is left to Node, whose parse is linear. */
	if (t->type == JSON_OBJECT && t->n > MAX_FAST_ANNOTATIONS) {
		rd->bad = 1;
		return;
	}
	if (t->type != JSON_OBJECT || r->annotations ||
	    !(r->annotations = calloc(t->n + 1, sizeof *r->annotations))) {
		rd->bad = 1;
		return;
	}
	for (size_t k = i + 1; k < t->next && !rd->bad; k = rd->d->toks[k + 1].next) {
		struct oci_annotation *a = &r->annotations[r->n_annotations++];
		take_str(rd, k, &a->key, 0);
		if (rd->d->toks[k + 1].type != JSON_STRING || rd->bad || index_like(&a->key)) {
			rd->bad = 1;
			return;
		}
		take_str(rd, k + 1, &a->value, 0);
		for (size_t j = 0; j + 1 < r->n_annotations && !rd->bad; j++)
			if (r->annotations[j].key.n == a->key.n &&
			    !memcmp(r->annotations[j].key.s, a->key.s, a->key.n))
				rd->bad = 1; /* JSON.parse keeps the last; rare enough for Node */
	}
}

static void take_dirs(struct reader *rd, size_t i, struct oci_record *r)
{
	const struct json_tok *t = &rd->d->toks[i];
	if (t->type != JSON_ARRAY || r->cgroup_dirs ||
	    !(r->cgroup_dirs = calloc(t->n + 1, sizeof(char *)))) {
		rd->bad = 1;
		return;
	}
	for (size_t k = i + 1; k < t->next && !rd->bad; k = rd->d->toks[k].next) {
		struct oci_str s = { NULL, 0 };
		take_str(rd, k, &s, 1);
		r->cgroup_dirs[r->n_cgroup_dirs++] = s.s;
	}
}

static void take_freezer(struct reader *rd, size_t i, struct oci_record *r)
{
	const struct json_tok *t = &rd->d->toks[i];
	int v2 = -1;
	if (t->type != JSON_OBJECT || t->n != 2 || r->freezer_dir) {
		rd->bad = 1;
		return;
	}
	for (size_t k = i + 1; k < t->next && !rd->bad; k = rd->d->toks[k + 1].next) {
		enum json_type vt = rd->d->toks[k + 1].type;
		if (json_string_is(rd->d, k, "dir")) {
			struct oci_str s = { r->freezer_dir, 0 };
			take_str(rd, k + 1, &s, 1);
			r->freezer_dir = s.s;
		} else if (json_string_is(rd->d, k, "v2") && (vt == JSON_TRUE || vt == JSON_FALSE))
			v2 = vt == JSON_TRUE;
		else
			rd->bad = 1;
	}
	if (!r->freezer_dir || v2 < 0)
		rd->bad = 1;
	r->freezer_v2 = v2 == 1;
}

static void take_hooks(struct reader *rd, size_t i, struct oci_record *r)
{
	const struct json_tok *t = &rd->d->toks[i];
	int seen = 0;
	if (t->type != JSON_OBJECT) {
		rd->bad = 1;
		return;
	}
	for (size_t k = i + 1; k < t->next && !rd->bad; k = rd->d->toks[k + 1].next) {
		const struct json_tok *v = &rd->d->toks[k + 1];
		int start = json_string_is(rd->d, k, "poststart");
		if ((!start && !json_string_is(rd->d, k, "poststop")) || v->type != JSON_ARRAY ||
		    (seen & (start ? 1 : 2)))
			rd->bad = 1;
		seen |= start ? 1 : 2;
		*(start ? &r->poststart_hooks : &r->poststop_hooks) = v->n;
	}
	if (seen != 3)
		rd->bad = 1;
}

static void take_pid(struct reader *rd, size_t i, struct oci_record *r)
{
	const struct json_tok *t = &rd->d->toks[i];
	const char *s = rd->d->text + t->start;
	size_t n = t->end - t->start, k = s[0] == '-';
	long v = 0;
	if (t->type != JSON_NUMBER || n - k == 0 || n - k > 9) {
		rd->bad = 1;
		return;
	}
	for (; k < n; k++) {
		if (s[k] < '0' || s[k] > '9') {
			rd->bad = 1;
			return;
		}
		v = v * 10 + (s[k] - '0');
	}
	r->pid = s[0] == '-' ? -v : v;
}

/* Each of the record's keys once, and nothing else (state.ts ContainerRecord). A key this file
 * does not know may be a field the TypeScript runtime acts on: such a record goes to Node. */
static void take_record(struct reader *rd, struct oci_record *r)
{
	enum {
		K_ID,
		K_START,
		K_BUNDLE,
		K_ROOTFS,
		K_CREATED,
		K_OWNER,
		K_PID,
		K_ANNOTATIONS,
		K_DIRS,
		K_HOOKS,
		K_FREEZER,
		N_KEYS
	};
	static const char *const keys[N_KEYS] = { "id",	    "startTime",   "bundle",
						  "rootfs", "created",	   "owner",
						  "pid",    "annotations", "cgroupDirs",
						  "hooks",  "freezer" };
	struct oci_str *strs[] = { &r->id,     &r->start_time, &r->bundle,
				   &r->rootfs, &r->created,    &r->owner };
	const struct json_doc *d = rd->d;
	unsigned seen = 0;
	if (d->toks[0].type != JSON_OBJECT) {
		rd->bad = 1;
		return;
	}
	for (size_t k = 1; k < d->toks[0].next && !rd->bad; k = d->toks[k + 1].next) {
		int key = 0;
		while (key < N_KEYS && !json_string_is(d, k, keys[key]))
			key++;
		if (key == N_KEYS || (seen & 1u << key)) {
			rd->bad = 1;
			break;
		}
		seen |= 1u << key;
		switch (key) {
		case K_PID:
			take_pid(rd, k + 1, r);
			break;
		case K_ANNOTATIONS:
			take_annotations(rd, k + 1, r);
			break;
		case K_DIRS:
			take_dirs(rd, k + 1, r);
			break;
		case K_HOOKS:
			take_hooks(rd, k + 1, r);
			break;
		case K_FREEZER:
			take_freezer(rd, k + 1, r);
			break;
		default: /* the start time is compared as a C string: no NUL in it */
			take_str(rd, k + 1, strs[key], key == K_START);
		}
	}
	/* every key but freezer, which JSON.stringify leaves out when undefined */
	if ((seen | 1u << K_FREEZER) != (1u << N_KEYS) - 1)
		rd->bad = 1;
}

enum oci_load oci_load_record(const char *dir, struct oci_record *r)
{
	*r = (struct oci_record){ 0 };
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/state.json", dir) >= sizeof path)
		return LOAD_FALLBACK;
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text)
		return errno == EFBIG || errno == ENOMEM ? LOAD_FALLBACK : LOAD_MISSING;
	struct json_doc d;
	struct reader rd = { &d, 0 };
	if (json_parse(&d, text, len))
		rd.bad = 1;
	else
		take_record(&rd, r);
	json_free(&d);
	free(text);
	if (rd.bad) {
		oci_free_record(r);
		return LOAD_FALLBACK;
	}
	return LOAD_OK;
}

void oci_free_record(struct oci_record *r)
{
	struct oci_str *fields[] = { &r->id,	 &r->start_time, &r->bundle,
				     &r->rootfs, &r->created,	 &r->owner };
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		free(fields[i]->s);
	for (size_t i = 0; r->annotations && i < r->n_annotations; i++) {
		free(r->annotations[i].key.s);
		free(r->annotations[i].value.s);
	}
	free(r->annotations);
	for (size_t i = 0; r->cgroup_dirs && i < r->n_cgroup_dirs; i++)
		free(r->cgroup_dirs[i]);
	free(r->cgroup_dirs);
	free(r->freezer_dir);
	*r = (struct oci_record){ 0 };
}

const struct oci_str *oci_annotation(const struct oci_record *r, const char *key)
{
	for (size_t i = 0; i < r->n_annotations; i++)
		if (r->annotations[i].key.n == strlen(key) &&
		    !memcmp(r->annotations[i].key.s, key, strlen(key)))
			return &r->annotations[i].value;
	return NULL;
}

int oci_proc_stat(long pid, char *state, size_t state_size, char *start, size_t start_size)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	state[0] = start[0] = 0;
	/* state.ts procStat: the fields after the last ')' and a space, split on spaces */
	char *p = memrchr(buf, ')', (size_t)n);
	if (!p || p + 2 > buf + n)
		return 0;
	p += 2;
	for (int field = 0; field <= 19; field++) {
		size_t len = strcspn(p, " ");
		char *dst = field == 0 ? state : field == 19 ? start : NULL;
		size_t size = field == 0 ? state_size : start_size;
		if (dst && len < size) {
			memcpy(dst, p, len);
			dst[len] = 0;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	return 0;
}

int oci_alive(const struct oci_record *r)
{
	char state[16], start[32];
	if (r->pid <= 0 || oci_proc_stat(r->pid, state, sizeof state, start, sizeof start))
		return 0;
	return !strcmp(start, r->start_time.s) && strcmp(state, "Z") && strcmp(state, "X");
}

int oci_is_frozen(const struct oci_record *r)
{
	if (!r->freezer_dir)
		return 0;
	char path[PATH_MAX], buf[64];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", r->freezer_dir,
			     r->freezer_v2 ? "cgroup.freeze" : "freezer.state") >= sizeof path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = 0;
	return !strcmp(buf, r->freezer_v2 ? "1" : "FROZEN");
}

enum oci_status oci_status_of(const char *dir, const struct oci_record *r)
{
	if (!oci_alive(r))
		return ST_STOPPED;
	char fifo[PATH_MAX];
	struct stat st;
	snprintf(fifo, sizeof fifo, "%s/exec.fifo", dir);
	if (!stat(fifo, &st))
		return ST_CREATED;
	return oci_is_frozen(r) ? ST_PAUSED : ST_RUNNING;
}

const char *oci_status_name(enum oci_status s)
{
	static const char *const names[] = { "created", "running", "paused", "stopped" };
	return names[s];
}

static void member(struct json_buf *b, const char *indent, const char *key, const struct oci_str *v)
{
	buf_puts(b, indent);
	buf_put_json_string(b, key, strlen(key));
	buf_puts(b, ": ");
	if (v)
		buf_put_json_string(b, v->s, v->n);
}

void oci_state_json(struct json_buf *b, const struct oci_record *r, enum oci_status s)
{
	const struct oci_str version = { (char *)OCI_VERSION, sizeof OCI_VERSION - 1 };
	const struct oci_str status = { (char *)oci_status_name(s), strlen(oci_status_name(s)) };
	char pid[32];
	snprintf(pid, sizeof pid, "%ld", s == ST_STOPPED ? 0 : r->pid);
	member(b, "{\n  ", "ociVersion", &version);
	member(b, ",\n  ", "id", &r->id);
	member(b, ",\n  ", "pid", NULL);
	buf_puts(b, pid);
	member(b, ",\n  ", "status", &status);
	member(b, ",\n  ", "bundle", &r->bundle);
	member(b, ",\n  ", "rootfs", &r->rootfs);
	member(b, ",\n  ", "created", &r->created);
	if (r->n_annotations) {
		member(b, ",\n  ", "annotations", NULL);
		for (size_t i = 0; i < r->n_annotations; i++) {
			buf_puts(b, i ? ",\n    " : "{\n    ");
			buf_put_json_string(b, r->annotations[i].key.s, r->annotations[i].key.n);
			buf_puts(b, ": ");
			buf_put_json_string(b, r->annotations[i].value.s,
					    r->annotations[i].value.n);
		}
		buf_puts(b, "\n  }");
	}
	member(b, ",\n  ", "owner", &r->owner);
	buf_puts(b, "\n}");
}
