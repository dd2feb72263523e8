/* events.c — JSON-lines events and human error lines (see events.h). */
#define _GNU_SOURCE
#include "events.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4000 /* below PIPE_BUF so a line is one atomic write */

static int events_fd = -1;
static int fail_fd = -1;

void ev_set_fail_fd(int fd)
{
	fail_fd = fd;
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

/* Paths are bytes, not UTF-8: anything outside printable ASCII is \u-escaped. */
static void put_json_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(l, esc, 2);
		} else if (*p < 0x20 || *p >= 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			put(l, esc, 6);
		} else {
			put(l, (const char *)p, 1);
		}
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

static void flush(struct line *l)
{
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	ssize_t unused = write(events_fd, l->buf, l->len);
	(void)unused;
}

static void begin(struct line *l, const char *event)
{
	l->len = 0;
	put_raw(l, "{\"event\":");
	put_json_string(l, event);
}

void ev_started(int pid)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "started");
	put_int_field(&l, "pid", pid);
	flush(&l);
}

void ev_exit(int code, int signal)
{
	if (events_fd < 0)
		return;
	struct line l;
	begin(&l, "exit");
	put_int_field(&l, "code", code);
	if (signal > 0) {
		char name[16];
		const char *abbrev = sigabbrev_np(signal);
		snprintf(name, sizeof name, "SIG%s", abbrev ? abbrev : "UNKNOWN");
		put_field(&l, "signal", name);
	}
	flush(&l);
}

void ev_step_error(const char *step, const char *path, const char *dest, int err)
{
	const char *code = strerrorname_np(err);
	if (events_fd < 0) {
		fprintf(stderr, "cordon-exec: %s%s%s%s%s failed: %s (%s)\n", step, path ? " " : "",
			path ? path : "", dest ? " -> " : "", dest ? dest : "", strerror(err),
			code ? code : "?");
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
			fprintf(stderr, "cordon-exec: warning: Landlock unavailable (%s): filesystem and network "
					"statements rely on the other layers\n", strerrorname_np(err) ? strerrorname_np(err) : "?");
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

void ev_denied(const char *layer, const char *blockers, const char *kind, const char *object, long pid,
	       const char *exe)
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
