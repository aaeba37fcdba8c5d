/* Fuzz target: the whole compiler. The input is a stream of choices: a
 * pipeline (-O level, lossy passes, calibration-driven refit, a forced
 * kernel), then a valid graph (gen.c). The graph goes through the passes
 * with verification after each, is compiled to an object, loaded in
 * process and run on random inputs (some NaN/Inf) in guard-paged buffers,
 * and compared with the interpreter; --emit-onnx is exported, re-imported
 * and interpreted, and the header and report writers run. Any mismatch,
 * crash or verifier failure aborts with the graph on stderr. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gen_src s = {data, size, 0};
	check_one(&s, getenv("NNCC_FUZZ_VERBOSE") != NULL);
	return 0;
}
