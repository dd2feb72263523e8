/* forward-signal.h — how a supervisor passes a signal of its job on to the launcher. */
#ifndef CORDON_FORWARD_SIGNAL_H
#define CORDON_FORWARD_SIGNAL_H

/* A signal cordon passes on to the command (--forwarded-signals): sent to the launcher as this
 * real-time signal with the signal's number as its payload (SI_QUEUE), so that the kernel never
 * merges it with the same signal sent to the whole job, which reaches the launcher directly too
 * (launcher.c is_copy counts the two). src/host/launcher.ts holds the same number. Whoever
 * starts the launcher starts it with this signal blocked (the addon's spawn, oci-launch.c's
 * helper), so that a forward sent before the launcher blocks it never meets its default action
 * (termination); the command gets the launcher's first mask without it. */
#define FORWARD_SIGNAL 61

#endif
