/* fuzz_plan.c — libFuzzer target for the plan decoder: any input must decode or be rejected
 * with a message, never crash, leak or read out of bounds. Build: `npm run fuzz`. */
#include "plan.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan p;
	char err[512];
	if (plan_decode(data, size, &p, err, sizeof err) == 0)
		plan_free(&p);
	return 0;
}
