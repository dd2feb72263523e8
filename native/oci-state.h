/* oci-state.h — cordon-oci's container record (ROOT/ID/state.json, written by
 * src/oci-runtime/state.ts) as the fast path (oci-fast.c) reads it: the state root's ownership
 * check, the record, the container's status, and `state`'s JSON. Each answers exactly as
 * state.ts does, or says FALLBACK: then the command is left to the TypeScript runtime, which
 * knows every case (a record field this file does not know, a root that fails the check and
 * needs its message, an annotation key JavaScript would reorder). */
#ifndef CORDON_OCI_STATE_H
#define CORDON_OCI_STATE_H

#include "json.h"

#include <stddef.h>

enum oci_load { LOAD_OK, LOAD_MISSING, LOAD_FALLBACK };

enum oci_status { ST_CREATED, ST_RUNNING, ST_PAUSED, ST_STOPPED };

/* A decoded JSON string: s is NUL-terminated, n its length (it may hold NULs: printed only). */
struct oci_str {
	char *s;
	size_t n;
};

struct oci_annotation {
	struct oci_str key, value;
};

/* Owns every string (oci_free_record). */
struct oci_record {
	struct oci_str id, start_time, bundle, rootfs, created, owner;
	long pid;
	struct oci_annotation *annotations;
	size_t n_annotations;
	char **cgroup_dirs;
	size_t n_cgroup_dirs;
	char *freezer_dir; /* NULL: no freezer */
	int freezer_v2;
	size_t poststart_hooks, poststop_hooks;
};

/* The state root is the caller's own and so is each parent (state.ts checkRoot): 0, or -1 when
 * the check fails or cannot be made (the TypeScript runtime then says why). */
int oci_check_root(const char *root);
/* Reads dir/state.json: LOAD_MISSING when it cannot be read (state.ts: "does not exist"),
 * LOAD_FALLBACK when it is not a record of exactly the shape this file knows. */
enum oci_load oci_load_record(const char *dir, struct oci_record *r);
void oci_free_record(struct oci_record *r);
/* The annotation's value, or NULL. */
const struct oci_str *oci_annotation(const struct oci_record *r, const char *key);

/* /proc/PID/stat's state (field 3) and start time (field 22); -1 when the process is gone. */
int oci_proc_stat(long pid, char *state, size_t state_size, char *start, size_t start_size);
/* The record's init is alive: its pid runs with the recorded start time and is no zombie. */
int oci_alive(const struct oci_record *r);
int oci_is_frozen(const struct oci_record *r);
enum oci_status oci_status_of(const char *dir, const struct oci_record *r);
const char *oci_status_name(enum oci_status s);
/* Appends the state as `runc state` prints it: JSON.stringify(ociState(rec), null, '  '). */
void oci_state_json(struct json_buf *b, const struct oci_record *r, enum oci_status s);

#endif
