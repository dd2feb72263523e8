/* view.h — builds the sandbox's filesystem view from the plan's phase-1 records. */
#ifndef CORDON_VIEW_H
#define CORDON_VIEW_H

#include "plan.h"

/* Runs records [*i] (OP_ROOT) through OP_PIVOT; on return *i indexes the OP_PIVOT record.
 * Must run inside a private mount namespace; dies with a step error on any failure. */
void view_build(const struct plan *p, size_t *i);

/* Idmapped binds (BIND_IDMAP): only a process privileged over the host's mounts may give a
 * mount an id mapping, so the launcher makes each such tree outside, in plan order, seen
 * through the sandbox's user namespace (userns_fd, maps written), and sends it over sock; the
 * sandbox's view_build takes them from the socket given to view_set_idmap_sock. Returns how
 * many it sent; dies with a step error when the source's filesystem cannot be idmapped. */
size_t view_send_idmapped(const struct plan *p, int userns_fd, int sock);
void view_set_idmap_sock(int sock);

#endif
