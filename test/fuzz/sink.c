/* The diagnostics sink of the fuzz targets: errors are expected on almost
 * every input, and printing them would drown libFuzzer's output. */
#include <stdlib.h>

#include "fuzz.h"

FILE *
fuzz_sink(void)
{
	static FILE *f;
	if (!f) {
		const char *v = getenv("NNCC_FUZZ_VERBOSE");
		f = v && *v == '1' ? stderr : fopen("/dev/null", "w");
		if (!f)
			f = stderr;
	}
	return f;
}
