/* audit.c — see audit.h. Records of one audit event share a serial: LANDLOCK_ACCESS (1423)
 * records name the domain, the blockers and the object; LANDLOCK_DOMAIN (1424) "allocated"
 * names the pid that created the domain, which tells whether it is ours; SYSCALL (1300) gives
 * the pid and exe of the denied task; EOE (1320) closes the event. */
#define _GNU_SOURCE
#include "audit.h"
#include "proc_stat.h"

#include "events.h"

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NETLINK_AUDIT_PROTO 9
#define AUDIT_NLGRP_READLOG 1
#define AUDIT_GET_TYPE 1000
#define AUDIT_USER_TYPE 1005
#define T_SYSCALL 1300
#define T_EOE 1320
#define T_LL_ACCESS 1423
#define T_LL_DOMAIN 1424
#define PENDING 8
#define DOMAINS 16

struct pending {
	unsigned long serial;
	char access[PENDING][512];
	int n_access;
	char syscall[1024];
	long alloc_pid; /* from a "status=allocated" domain record, else 0 */
	char alloc_domain[32];
};

static struct pending ev;
static char barrier[64]; /* text of our end-of-run marker, once sent */
static int barrier_seen;

/* Copies src into dst, truncating: audit records longer than our buffers are cut, not lost. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}
static char ours[DOMAINS][32];
static int n_ours;

/* Sends one request on a fresh unicast audit socket; returns the reply's "enabled" for
 * AUDIT_GET, 0 for an acknowledged AUDIT_USER, -1 on failure. */
static int audit_request(uint16_t type, const char *text)
{
	struct {
		struct nlmsghdr h;
		char body[256];
	} req;
	size_t len = text ? strlen(text) + 1 : 0;
	memset(&req, 0, sizeof req);
	req.h = (struct nlmsghdr){ (uint32_t)(NLMSG_HDRLEN + len), type, NLM_F_REQUEST | NLM_F_ACK,
				   1, 0 };
	if (text)
		memcpy(req.body, text, len);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT_PROTO);
	if (fd < 0)
		return -1;
	struct timeval tv = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int result = -1;
	if (send(fd, &req, req.h.nlmsg_len, 0) >= 0) {
		char buf[8192];
		for (int i = 0; i < 4 && result < 0; i++) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);
			if (n < (ssize_t)NLMSG_HDRLEN)
				break;
			const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
			if (h->nlmsg_type == NLMSG_ERROR &&
			    n >= (ssize_t)(NLMSG_HDRLEN + sizeof(int))) {
				int err;
				memcpy(&err, buf + NLMSG_HDRLEN, sizeof err);
				if (err)
					break;
				if (type != AUDIT_GET_TYPE)
					result = 0;
			} else if (h->nlmsg_type == AUDIT_GET_TYPE &&
				   n >= (ssize_t)(NLMSG_HDRLEN + 8)) {
				uint32_t enabled;
				memcpy(&enabled, buf + NLMSG_HDRLEN + 4, sizeof enabled);
				result = (int)enabled;
			}
		}
	}
	close(fd);
	return result;
}

int audit_open(void)
{
	/* With audit off no record will come: no tap, and no wait at exit. */
	if (audit_request(AUDIT_GET_TYPE, NULL) <= 0)
		return -1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT_PROTO);
	if (fd < 0)
		return -1;
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK,
				    .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1) };
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Copies field `key=` of a record into out: "quoted" or a bare word; untrusted strings (path,
 * exe) that audit had to escape come hex-encoded, which `text` fields decode. Numbers never do:
 * "5390" is a pid, not two hex bytes. */
static int field_as(const char *rec, const char *key, char *out, size_t size, int text)
{
	size_t klen = strlen(key);
	for (const char *p = rec; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p != rec && p[-1] != ' ') || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = 0;
		if (*v == '"') {
			for (v++; *v && *v != '"' && n + 1 < size; v++)
				out[n++] = *v;
		} else {
			size_t len = strcspn(v, " ");
			int hex = text && len % 2 == 0 && len > 0 &&
				  strspn(v, "0123456789ABCDEF") == len;
			for (size_t i = 0; i < len && n + 1 < size; i += hex ? 2 : 1) {
				unsigned c = (unsigned char)v[i];
				if (hex)
					sscanf(v + i, "%2x", &c);
				out[n++] = (char)c;
			}
		}
		out[n] = '\0';
		return 0;
	}
	out[0] = '\0';
	return -1;
}

static int field(const char *rec, const char *key, char *out, size_t size)
{
	int text = strcmp(key, "path") == 0 || strcmp(key, "exe") == 0;
	return field_as(rec, key, out, size, text);
}

static int descends_from(long pid, pid_t ancestor)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		if (pid == ancestor)
			return 1;
		pid = proc_stat_parent(pid);
	}
	return 0;
}

static int is_ours(const char *domain)
{
	for (int i = 0; i < n_ours; i++)
		if (strcmp(ours[i], domain) == 0)
			return 1;
	return 0;
}

static void flush_event(pid_t sandbox)
{
	if (ev.alloc_pid > 0 && n_ours < DOMAINS && descends_from(ev.alloc_pid, sandbox))
		copy_str(ours[n_ours++], sizeof ours[0], ev.alloc_domain);
	char pid[32], exe[256];
	field(ev.syscall, "pid", pid, sizeof pid);
	field(ev.syscall, "exe", exe, sizeof exe);
	for (int i = 0; i < ev.n_access; i++) {
		char domain[32], blockers[128], object[512];
		field(ev.access[i], "domain", domain, sizeof domain);
		if (!is_ours(domain))
			continue;
		field(ev.access[i], "blockers", blockers, sizeof blockers);
		const char *kind = "path";
		if (field(ev.access[i], "path", object, sizeof object)) {
			kind = field(ev.access[i], "dport", object, sizeof object) == 0 ? "port"
											: "object";
			if (strcmp(kind, "port") &&
			    field(ev.access[i], "lport", object, sizeof object) == 0)
				kind = "port";
		}
		ev_denied("landlock", blockers, kind, object, atol(pid), exe);
	}
	memset(&ev, 0, sizeof ev);
}

static void record(unsigned type, const char *text, pid_t sandbox)
{
	unsigned long serial = 0;
	const char *colon = strchr(text, ':');
	if (!colon || sscanf(colon + 1, "%lu", &serial) != 1)
		return;
	const char *body = strstr(text, "): ");
	body = body ? body + 3 : text;
	if (type == AUDIT_USER_TYPE && barrier[0] && strstr(body, barrier)) {
		barrier_seen = 1;
		return;
	}
	if (ev.serial && serial != ev.serial)
		flush_event(sandbox); /* a new event: the previous one ended without EOE */
	ev.serial = serial;
	char status[32];
	switch (type) {
	case T_LL_ACCESS:
		if (ev.n_access < PENDING)
			copy_str(ev.access[ev.n_access++], sizeof ev.access[0], body);
		break;
	case T_LL_DOMAIN:
		if (field(body, "status", status, sizeof status) == 0 &&
		    strcmp(status, "allocated") == 0) {
			char pid[32];
			field(body, "pid", pid, sizeof pid);
			ev.alloc_pid = atol(pid);
			field(body, "domain", ev.alloc_domain, sizeof ev.alloc_domain);
		}
		break;
	case T_SYSCALL:
		copy_str(ev.syscall, sizeof ev.syscall, body);
		break;
	case T_EOE:
		flush_event(sandbox);
		break;
	default:
		break;
	}
}

/* One datagram is one record: its length is trusted, the header's nlmsg_len is not (audit has
 * sent records whose nlmsg_len disagrees with the payload). */
void audit_read(int fd, pid_t sandbox)
{
	static char buf[16384];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n < (ssize_t)NLMSG_HDRLEN)
			return;
		buf[n] = '\0';
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		record(h->nlmsg_type, buf + NLMSG_HDRLEN, sandbox);
	}
}

void audit_finish(int fd, pid_t sandbox)
{
	/* Records travel through one kernel queue: once our own marker comes back, every denial
	 * logged before it has been delivered. Bounded, in case the marker is refused or lost. */
	snprintf(barrier, sizeof barrier, "cordon-exec end of sandbox %d", (int)sandbox);
	if (audit_request(AUDIT_USER_TYPE, barrier) != 0)
		return;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (int waited = 0; !barrier_seen && waited < 1000; waited += 50) {
		if (poll(&p, 1, 50) > 0)
			audit_read(fd, sandbox);
	}
	if (ev.serial)
		flush_event(sandbox);
}
