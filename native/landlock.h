/* landlock.h — applies the plan's Landlock ruleset in the command process, after no_new_privs
 * and before seccomp. The plan carries a row of handled rights per ABI; the launcher uses the
 * row for the running kernel's ABI, so one plan degrades correctly on older kernels. */
#ifndef CORDON_LANDLOCK_H
#define CORDON_LANDLOCK_H

#include "plan.h"

void landlock_begin(const struct plan_op_rec *op);
void landlock_add_path(const struct plan_op_rec *op);
void landlock_add_port(const struct plan_op_rec *op);
void landlock_restrict(void);

#endif
