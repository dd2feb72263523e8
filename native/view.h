/* view.h — builds the sandbox's filesystem view from the plan's phase-1 records. */
#ifndef CORDON_VIEW_H
#define CORDON_VIEW_H

#include "plan.h"

/* Runs records [*i] (OP_ROOT) through OP_PIVOT; on return *i indexes the OP_PIVOT record.
 * Must run inside a private mount namespace; dies with a step error on any failure. */
void view_build(const struct plan *p, size_t *i);

#endif
