/* probe.h — `cordon-exec --probe`: what this kernel lets the current user do, as JSON. */
#ifndef CORDON_PROBE_H
#define CORDON_PROBE_H

int probe_print(void);

#endif
