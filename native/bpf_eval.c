/* bpf_eval.c — see bpf_eval.h. Jumps only go forward (as in every classic BPF program), so a
 * checked program always terminates. */
#include "bpf_eval.h"

#include <string.h>

#define LD_W_ABS 0x20
#define ALU_AND_K 0x54
#define JMP_JA 0x05
#define JEQ_K 0x15
#define JGT_K 0x25
#define JGE_K 0x35
#define JSET_K 0x45
#define RET_K 0x06
#define SECCOMP_DATA_SIZE 64

struct insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

static struct insn insn_at(const uint8_t *prog, size_t pc)
{
	const uint8_t *b = prog + pc * 8;
	struct insn i = { .code = (uint16_t)(b[0] | b[1] << 8), .jt = b[2], .jf = b[3] };
	i.k = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	return i;
}

const char *bpf_check(const uint8_t *prog, size_t n)
{
	if (n == 0 || n > 4096)
		return "program must have 1-4096 instructions";
	for (size_t pc = 0; pc < n; pc++) {
		struct insn i = insn_at(prog, pc);
		size_t left = n - pc - 1; /* instructions after this one */
		switch (i.code) {
		case LD_W_ABS:
			if (i.k % 4 != 0 || i.k >= SECCOMP_DATA_SIZE)
				return "load outside struct seccomp_data";
			break;
		case ALU_AND_K:
			break;
		case JMP_JA:
			if (i.k >= left)
				return "jump past the end";
			break;
		case JEQ_K:
		case JGT_K:
		case JGE_K:
		case JSET_K:
			if (i.jt >= left || i.jf >= left)
				return "jump past the end";
			break;
		case RET_K:
			break;
		default:
			return "instruction outside the supported subset";
		}
		if (pc == n - 1 && i.code != RET_K)
			return "the last instruction must return";
	}
	return 0;
}

uint32_t bpf_run(const uint8_t *prog, size_t n, const uint8_t data[SECCOMP_DATA_SIZE])
{
	uint32_t a = 0;
	for (size_t pc = 0; pc < n; pc++) {
		struct insn i = insn_at(prog, pc);
		switch (i.code) {
		case LD_W_ABS: {
			memcpy(&a, data + i.k, sizeof a); /* native order, as the kernel loads it */
			break;
		}
		case ALU_AND_K:
			a &= i.k;
			break;
		case JMP_JA:
			pc += i.k;
			break;
		case JEQ_K:
			pc += a == i.k ? i.jt : i.jf;
			break;
		case JGT_K:
			pc += a > i.k ? i.jt : i.jf;
			break;
		case JGE_K:
			pc += a >= i.k ? i.jt : i.jf;
			break;
		case JSET_K:
			pc += (a & i.k) ? i.jt : i.jf;
			break;
		default: /* RET_K: bpf_check admits nothing else */
			return i.k;
		}
	}
	return 0;
}
