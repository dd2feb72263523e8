/* A filed plan's host reads, made again in C (host/reads.ts sameHostReads): the answers Node's
 * fs calls gave when the plan was compiled, compared with what the same calls answer now. */
#ifndef CORDON_HOST_READS_H
#define CORDON_HOST_READS_H

#include <stddef.h>
#include <stdint.h>

/* Each read's op, in the encoding's first byte (0: not for C, left unconfirmed). */
enum host_read_op {
	HOST_READ_SKIP = 0,
	HOST_READ_LSTAT = 1,
	HOST_READ_READLINK = 2,
	HOST_READ_READDIR = 3,
	HOST_READ_DIRENTS = 4,
	HOST_READ_TEXT = 5,
};

/* `in` holds reads, each: op (u8), path length (u32 LE), path, answer length (u32 LE), answer;
 * paths and answers are UTF-8 as Node gives a string to the kernel. Sets same[i] to 1 where read
 * i answers now exactly what its answer says, 0 where it differs or C cannot tell (JavaScript
 * then makes that read itself). Returns the number of reads, or -1 when `in` is malformed or
 * holds more than `n` reads (same[] is then all 0). */
long host_reads_same(const uint8_t *in, size_t len, uint8_t *same, size_t n);

#endif
