/* view-plan.h — pure questions about a plan's filesystem view (view-plan.c). */
#ifndef CORDON_VIEW_PLAN_H
#define CORDON_VIEW_PLAN_H

#include "plan.h"

/* a is b or lies below it, component-wise (paths as the plan spells them). */
int view_path_within(const char *a, const char *b);
/* `/`-rooted, with no empty, `.` or `..` component and no trailing slash. */
int view_plain_path(const char *s);
/* An optional read-only bind that an earlier one already makes (`/sys` after `ro: /`): left out
 * by the launcher (no tree sent) and by the sandbox (none received, nothing mounted). */
int view_redundant_bind(const struct plan *p, size_t j);
/* No bind source the sandbox opens under the host root lies below scratch or holds it, and no
 * tree the launcher makes (all of them when all_binds) lies below it: a tmpfs on scratch hides
 * nothing the view is built from. */
int view_scratch_free(const struct plan *p, const char *scratch, int all_binds);

#endif
