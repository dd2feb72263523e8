/* view.h — builds the sandbox's filesystem view from the plan's phase-1 records. */
#ifndef CORDON_VIEW_H
#define CORDON_VIEW_H

#include "plan.h"

/* Runs records [*i] (OP_ROOT) through OP_PIVOT; on return *i indexes the OP_PIVOT record.
 * Must run inside a private mount namespace; dies with a step error on any failure. */
void view_build(const struct plan *p, size_t *i);

/* OP_PROPAGATION, after pivot_root: sets the propagation of the view's mount at op->s1 (and
 * below it with MS_REC). The view was cut from the host's peer groups before its first mount
 * (begin: / made private), so a shared mount shares only with mounts of this namespace, and a
 * slave one has no master to receive from. Dies with a step error on failure. */
void view_propagate(const struct plan_op_rec *op);
/* OP_LEAVE_MOUNT_NS. The launcher, before the clone: opens its own mount namespace. The
 * sandbox, once its view is whole: clones the view detached (open_tree, recursive), joins that
 * namespace again and makes the clone its root. The host's mount table never gets a mount; the
 * view lives as long as a process has it as root (its mounts stay connected). */
void view_open_return_ns(void);
/* The namespace to go back to is fd (owned from now on) in place of the launcher's: a mount
 * namespace joined by path, whose private copy the view is built in (oci.c). */
void view_set_return_ns(int fd);
void view_leave(void);

/* Binds made by the launcher. Only a process privileged over the host's mounts may give a mount
 * an id mapping (BIND_IDMAP), and a remapped sandbox (a root caller's, an unprivileged host id
 * range) can no longer open sources only root may reach: so the launcher makes those trees
 * outside (all: every bind's), in plan order, idmapped ones seen through the sandbox's user
 * namespace (userns_fd, maps written), and sends them over sock; the sandbox's view_build takes
 * them from the socket given to view_set_idmap_sock with the same `all`. Returns how many it
 * sent; dies with a step error when a source's filesystem cannot be idmapped. */
size_t view_send_idmapped(const struct plan *p, int userns_fd, int sock, int all);
void view_set_idmap_sock(int sock, int all);

#endif
