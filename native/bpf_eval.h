/* bpf_eval.h — a checker and interpreter for the classic-BPF subset cordon's compiler emits
 * (ld abs word, and, ja, jeq/jgt/jge/jset with constants, ret constant). The launcher runs the
 * plan's responder program with it on each seccomp notification: the kernel validated the
 * filter it runs, but nobody validated the responder, so the decoder checks it first. */
#ifndef CORDON_BPF_EVAL_H
#define CORDON_BPF_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* Returns NULL when the program (n instructions of 8 bytes, little-endian) only uses the
 * subset, every jump lands inside it, every load reads a word of struct seccomp_data and every
 * path ends in a return; otherwise why not. */
const char *bpf_check(const uint8_t *prog, size_t n);
/* Runs a checked program on data (struct seccomp_data, 64 bytes); returns the value returned. */
uint32_t bpf_run(const uint8_t *prog, size_t n, const uint8_t data[64]);

#endif
