/* audit.h — the launcher's audit tap: reads Landlock denials from the audit netlink multicast
 * group and reports those of this sandbox as events:
 *   {"event":"denied","layer":"landlock","blockers":"fs.read_file","path":"/x","pid":N,"exe":"/bin/cat"}
 * Needs CAP_AUDIT_READ (root) and audit enabled (`auditctl -e 1`); without either it stays off. */
#ifndef CORDON_AUDIT_H
#define CORDON_AUDIT_H

#include <sys/types.h>

/* Opens the tap; returns the fd to poll, or -1 when unavailable (not root, or audit off).
 * Call before the sandbox starts. */
int audit_open(void);
/* Reads what is pending on fd; `sandbox` is the pid of the sandbox's first process. */
void audit_read(int fd, pid_t sandbox);
/* After the sandbox ended: waits (at most 1 s) until every record of its run was read. */
void audit_finish(int fd, pid_t sandbox);

#endif
