/* events.c — JSON-lines events and human error lines (see events.h). */
#define _GNU_SOURCE
#include "events.h"

#include "notify.h"
#include "outcome.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines from the sandbox's processes (step errors) are short, under PIPE_BUF, so a line is one
 * atomic write; only the supervisor's syscall-counts line may be longer. */
#define LINE_MAX_BYTES 60000 /* two escaped PATH_MAX paths fit */
/* One string's most, escaped: a PATH_MAX path of bytes that are not UTF-8 (six each). Only a
 * longer string (a command name the kernel refused: ENAMETOOLONG) is cut, with an ellipsis,
 * so that the line still ends as JSON: cut by put(), it lost its closing quote and brace, and
 * the event, the only word of why the command did not run, was thrown away (helper-115). */
#define STRING_MAX_BYTES (6 * 4096)
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define QUEUE_SOFT_LIMIT (1u << 20) /* droppable lines beyond this queue are dropped */

static int events_fd = -1;
static int fail_fd = -1;
static int peer_fail_fd = -1;

/* Buffered mode: see ev_buffer_start. */
static int buffered;
static char *queue;
static size_t queue_len, queue_cap;
static unsigned long dropped;

void ev_set_fail_fd(int fd)
{
	fail_fd = fd;
}

void ev_set_peer_fail_fd(int fd)
{
	peer_fail_fd = fd;
}

/* The peer's 'F' is there: it failed first and said why (consumes the byte; the caller exits). */
static int peer_failed(void)
{
	struct pollfd pfd = { .fd = peer_fail_fd, .events = POLLIN };
	char byte = 0;
	return peer_fail_fd >= 0 && poll(&pfd, 1, 0) == 1 && read(peer_fail_fd, &byte, 1) == 1 &&
	       byte == 'F';
}

static void mark_failed(void)
{
	if (fail_fd >= 0) {
		ssize_t unused = write(fail_fd, "F", 1);
		(void)unused;
	}
}

void ev_init(int fd)
{
	events_fd = fd;
}

int ev_fd(void)
{
	return events_fd;
}

struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
	int droppable;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof l->buf - 2)
		n = sizeof l->buf - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_raw(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one:
 * overlong forms, surrogates and code points past U+10FFFF are invalid (RFC 3629). */
static size_t utf8_sequence(const unsigned char *p, uint32_t *cp)
{
	size_t len;
	uint32_t min;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, min = 0x80, *cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3, min = 0x800, *cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, min = 0x10000, *cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		/* A NUL ends the string: it is never a continuation byte, so no read past it. */
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Paths are bytes, not UTF-8. Valid UTF-8 passes through as it is, so `café` stays `café`;
 * each byte that is not part of valid UTF-8 becomes the lone surrogate U+DC80..U+DCFF (PEP
 * 383's surrogateescape). No valid UTF-8 text contains a surrogate, so the escape is
 * reversible: src/run/path-bytes.ts turns the string back into the exact bytes. Controls, C1
 * controls and the Unicode line separators are \u-escaped so a line stays one line.
 */
static void put_json_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	const size_t end = l->len + STRING_MAX_BYTES;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		char esc[8];
		uint32_t cp = *p;
		size_t len = *p < 0x80 ? 1 : utf8_sequence(p, &cp);
		/* Whole characters only, each escaped as at most six bytes: the cut is valid UTF-8. */
		if (l->len + 6 > end) {
			put_raw(l, ELLIPSIS);
			break;
		}
		if (len == 0) {
			snprintf(esc, sizeof esc, "\\udc%02x", *p);
			put(l, esc, 6);
			p++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			put(l, esc, 2);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
			   cp == 0x2029) {
			snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
			put(l, esc, 6);
		} else {
			put(l, (const char *)p, len);
		}
		p += len;
	}
	put(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const char *value)
{
	put_raw(l, ",\"");
	put_raw(l, key);
	put_raw(l, "\":");
	put_json_string(l, value);
}

static void put_int_field(struct line *l, const char *key, long value)
{
	char num[32];
	snprintf(num, sizeof num, ",\"%s\":%ld", key, value);
	put_raw(l, num);
}

/* A signal's name: glibc's, else as bash's `kill -l` and runc name the real-time ones (SIGRTMIN
 * is glibc's 34; SIGRTMIN+1 to +15, then SIGRTMAX-14 to SIGRTMAX), and glibc's own two as SIG32
 * and SIG33: "SIGUNKNOWN" left a person to work the number out of the status. */
static void put_signal_field(struct line *l, const char *key, int signal)
{
	char name[24];
	const char *abbrev = sigabbrev_np(signal);
	int min = SIGRTMIN, max = SIGRTMAX;
	if (abbrev)
		snprintf(name, sizeof name, "SIG%s", abbrev);
	else if (signal == min || signal == max)
		snprintf(name, sizeof name, "SIGRT%s", signal == min ? "MIN" : "MAX");
	else if (signal > min && signal < max && signal - min <= (max - min) / 2)
		snprintf(name, sizeof name, "SIGRTMIN+%d", signal - min);
	else if (signal > min && signal < max)
		snprintf(name, sizeof name, "SIGRTMAX-%d", max - signal);
	else
		snprintf(name, sizeof name, "SIG%d", signal);
	put_field(l, key, name);
}

static int enqueue(const char *data, size_t n)
{
	if (queue_len + n > queue_cap) {
		size_t cap = queue_cap ? queue_cap : 65536;
		while (cap < queue_len + n)
			cap *= 2;
		char *grown = realloc(queue, cap);
		if (!grown)
			return -1;
		queue = grown;
		queue_cap = cap;
	}
	memcpy(queue + queue_len, data, n);
	queue_len += n;
	return 0;
}

static void flush(struct line *l)
{
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	if (buffered) {
		if ((l->droppable && queue_len >= QUEUE_SOFT_LIMIT) || enqueue(l->buf, l->len))
			dropped++;
		ev_drain();
		return;
	}
	ssize_t unused = write(events_fd, l->buf, l->len);
	(void)unused;
}

void ev_buffer_start(void)
{
	if (events_fd < 0 || buffered)
		return;
	int fl = fcntl(events_fd, F_GETFL);
	if (fl >= 0 && fcntl(events_fd, F_SETFL, fl | O_NONBLOCK) == 0)
		buffered = 1;
}

int ev_pending(void)
{
	return queue_len > 0;
}

unsigned long ev_dropped(void)
{
	return dropped;
}

void ev_drain(void)
{
	size_t done = 0;
	while (done < queue_len) {
		ssize_t n = write(events_fd, queue + done, queue_len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			done = queue_len; /* the reader is gone: nothing will ever read these */
		break;
	}
	memmove(queue, queue + done, queue_len - done);
	queue_len -= done;
}

void ev_drain_all(void)
{
	if (!buffered)
		return;
	int fl = fcntl(events_fd, F_GETFL);
	if (fl >= 0)
		fcntl(events_fd, F_SETFL, fl & ~O_NONBLOCK);
	ev_drain();
	buffered = 0;
	free(queue);
	queue = NULL;
	queue_len = queue_cap = 0;
}

static void begin(struct line *l, const char *event)
{
	l->len = 0;
	l->droppable = 0;
	put_raw(l, "{\"event\":");
	put_json_string(l, event);
}

static const char *cgroup_join;

void ev_set_cgroup_join(const char *how)
{
	cgroup_join = how;
}

void ev_started(int pid, int command_pid)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "started");
	put_int_field(&l, "pid", pid);
	if (command_pid > 0)
		put_int_field(&l, "commandPid", command_pid);
	if (cgroup_join)
		put_field(&l, "cgroupJoin", cgroup_join);
	flush(&l);
}

void ev_exit(int code, int signal)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "exit");
	put_int_field(&l, "code", code);
	if (signal > 0)
		put_signal_field(&l, "signal", signal);
	flush(&l);
}

void ev_process_exec(int pid, int ppid, const char *exe, const char *source)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "process");
	put_field(&l, "action", "exec");
	put_int_field(&l, "pid", pid);
	put_int_field(&l, "ppid", ppid);
	if (*exe)
		put_field(&l, "exe", exe);
	put_field(&l, "source", source);
	flush(&l);
}

void ev_process_exit(int pid, int ppid, const char *exe, int code, int signal, const char *source)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "process");
	put_field(&l, "action", "exit");
	put_int_field(&l, "pid", pid);
	put_int_field(&l, "ppid", ppid);
	if (*exe)
		put_field(&l, "exe", exe);
	if (code >= 0)
		put_int_field(&l, "code", code);
	if (signal > 0)
		put_signal_field(&l, "signal", signal);
	put_field(&l, "source", source);
	flush(&l);
}

void ev_process_spawns(long count, long live, const char *source)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "spawn");
	put_int_field(&l, "count", count);
	if (live >= 0)
		put_int_field(&l, "pids", live);
	put_field(&l, "source", source);
	flush(&l);
}

/* Without Node to explain it, the one failure a plan cannot avoid by itself gets its fix here. */
static const char *standalone_hint(const char *step, int err)
{
	if ((err == EBUSY || err == EPERM) && strcmp(step, "seccomp listener") == 0)
		return "; " NESTED_LISTENER_HINT;
	return "";
}

void ev_step_error(const char *step, const char *path, const char *dest, int err)
{
	const char *code = strerrorname_np(err);
	if (events_fd < 0) {
		fprintf(stderr, "cordon-exec: %s%s%s%s%s failed: %s (%s)%s\n", step,
			path ? " " : "", path ? path : "", dest ? " -> " : "", dest ? dest : "",
			strerror(err), code ? code : "?", standalone_hint(step, err));
		return;
	}
	struct line l;
	begin(&l, "error");
	put_field(&l, "step", step);
	if (path)
		put_field(&l, "path", path);
	if (dest)
		put_field(&l, "dest", dest);
	put_int_field(&l, "errno", err);
	put_field(&l, "code", code ? code : "");
	put_field(&l, "message", strerror(err));
	flush(&l);
}

void ev_landlock(long abi, int err)
{
	if (events_fd < 0) {
		if (abi == 0)
			fprintf(stderr,
				"cordon-exec: warning: Landlock unavailable (%s): filesystem and "
				"network "
				"statements rely on the other layers\n",
				strerrorname_np(err) ? strerrorname_np(err) : "?");
		return;
	}
	struct line l;
	begin(&l, "landlock");
	put_int_field(&l, "abi", abi);
	if (abi == 0) {
		put_int_field(&l, "errno", err);
		put_field(&l, "code", strerrorname_np(err) ? strerrorname_np(err) : "");
	}
	flush(&l);
}

void ev_denied(const char *layer, const char *blockers, const char *kind, const char *object,
	       long pid, const char *exe)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "denied");
	put_field(&l, "layer", layer);
	put_field(&l, "blockers", blockers);
	put_field(&l, kind, object);
	put_int_field(&l, "pid", pid);
	put_field(&l, "exe", exe);
	flush(&l);
}

static void put_state(struct line *l, const char *key, const struct obj_state *s)
{
	char text[96] = "";
	if (s->present)
		snprintf(text, sizeof text, "%llu:%llu:%lld", s->dev, s->ino, s->ctime_ns);
	put_field(l, key, text);
}

static void put_bool(struct line *l, const char *key, int value)
{
	char text[48];
	snprintf(text, sizeof text, ",\"%s\":%s", key, value ? "true" : "false");
	put_raw(l, text);
}

static void put_effect(struct line *l, const struct effect *e)
{
	put_raw(l, ",\"effect\":{\"settled\":");
	put_raw(l, e->settled ? "true" : "false");
	if (e->settled && (e->checks & OUTCOME_PATHS)) {
		put_state(l, "was", &e->was);
		put_state(l, "now", &e->now);
		put_state(l, "was2", &e->was2);
		put_state(l, "now2", &e->now2);
	}
	if (e->settled && (e->checks & OUTCOME_FDS))
		put_int_field(l, "opened", e->opened);
	if (e->settled && (e->checks & OUTCOME_EXEC))
		put_bool(l, "execed", e->execed);
	if (e->settled && (e->checks & OUTCOME_SOCKET)) {
		put_bool(l, "boundBefore", e->bound_before);
		put_bool(l, "bound", e->bound);
		put_bool(l, "peer", e->peer);
	}
	put_raw(l, "}");
}

void ev_syscall(const struct syscall_report *r)
{
	if (events_fd < 0)
		return;
	struct line l;
	char num[160];
	begin(&l, "syscall");
	l.droppable = !r->record;
	snprintf(num, sizeof num, ",\"arch\":%" PRIu32 ",\"nr\":%d", r->arch, r->nr);
	put_raw(&l, num);
	put_int_field(&l, "pid", r->pid);
	put_raw(&l, ",\"args\":[");
	for (int i = 0; i < 6; i++) {
		snprintf(num, sizeof num, "%s\"0x%" PRIx64 "\"", i ? "," : "", r->args[i]);
		put_raw(&l, num);
	}
	put_raw(&l, "]");
	if (r->denied_errno)
		put_int_field(&l, "errno", r->denied_errno);
	if (r->path)
		put_field(&l, "path", r->path);
	if (r->path2)
		put_field(&l, "path2", r->path2);
	if (r->ctime_ms >= 0) {
		snprintf(num, sizeof num, ",\"ctimeMs\":%lld", r->ctime_ms);
		put_raw(&l, num);
	}
	if (r->exe)
		put_field(&l, "exe", r->exe);
	if (r->data) {
		static const char hex[] = "0123456789abcdef";
		char text[2 * NOTIFY_STRUCT_MAX + 1];
		size_t n = r->data_len < NOTIFY_STRUCT_MAX ? r->data_len : NOTIFY_STRUCT_MAX;
		for (size_t i = 0; i < n; i++) {
			text[2 * i] = hex[r->data[i] >> 4];
			text[2 * i + 1] = hex[r->data[i] & 15];
		}
		text[2 * n] = '\0';
		put_field(&l, "data", text);
	}
	if (r->sock_type) {
		snprintf(num, sizeof num, ",\"sockType\":%d,\"sockProto\":%d", r->sock_type,
			 r->sock_proto);
		put_raw(&l, num);
	}
	if (r->unreadable)
		put_raw(&l, ",\"unreadable\":true");
	if (r->record)
		put_raw(&l, ",\"record\":true");
	if (r->effect)
		put_effect(&l, r->effect);
	flush(&l);
}

void ev_syscall_counts(const struct notifier *nf)
{
	if (events_fd < 0)
		return;
	struct line l;
	char num[80];
	begin(&l, "syscall-counts");
	put_raw(&l, ",\"counts\":{");
	int first = 1;
	for (int a = 0; a < NOTIFY_ARCHES && nf->arches[a].arch; a++) {
		for (int nr = 0; nr <= NOTIFY_MAX_NR; nr++) {
			unsigned long c =
				nr < NOTIFY_MAX_NR ? nf->arches[a].count[nr] : nf->arches[a].other;
			if (!c)
				continue;
			if (nr < NOTIFY_MAX_NR)
				snprintf(num, sizeof num, "%s\"%" PRIu32 ":%d\":%lu",
					 first ? "" : ",", nf->arches[a].arch, nr, c);
			else
				snprintf(num, sizeof num, "%s\"%" PRIu32 ":other\":%lu",
					 first ? "" : ",", nf->arches[a].arch, c);
			put_raw(&l, num);
			first = 0;
		}
	}
	put_raw(&l, "}");
	put_int_field(&l, "handled", (long)nf->handled);
	put_int_field(&l, "dropped", (long)dropped);
	flush(&l);
}

void ev_warning(const char *step, const char *message)
{
	if (events_fd < 0) {
		fprintf(stderr, "cordon-exec: warning: %s: %s\n", step, message);
		return;
	}
	struct line l;
	begin(&l, "warning");
	put_field(&l, "step", step);
	put_field(&l, "message", message);
	flush(&l);
}

noreturn void die_step(int status, const char *step, const char *path, const char *dest, int err)
{
	if (peer_failed())
		_exit(status);
	ev_step_error(step, path, dest, err);
	mark_failed();
	_exit(status);
}

noreturn void die_msg(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (peer_failed())
		_exit(EXIT_CORDON);
	if (events_fd < 0) {
		fprintf(stderr, "cordon-exec: %s\n", msg);
	} else {
		struct line l;
		begin(&l, "error");
		put_field(&l, "step", "launcher");
		put_field(&l, "message", msg);
		flush(&l);
	}
	mark_failed();
	_exit(EXIT_CORDON);
}
