/* Fuzz target: .npy bytes -> nnrt_npy_fread (the runtime's reader that
 * nncc-run and user harnesses use). */
#include <stdio.h>

#include "fuzz.h"
#include "nnrt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* glibc's fmemopen refuses size 0; the reader's first fread then
	 * sees an empty file anyway. */
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	nnrt_array a;
	char err[256];
	if (nnrt_npy_fread(f, &a, err, sizeof err) == 0) {
		/* Touch every byte so a short buffer shows under ASan. */
		volatile unsigned char sum = 0;
		for (size_t i = 0; i < a.nbytes; i++)
			sum ^= ((unsigned char *)a.data)[i];
		(void)sum;
		if (a.nbytes != (size_t)nnrt_array_numel(&a) *
					nnrt_dtype_size(a.dtype))
			__builtin_trap();
		nnrt_array_free(&a);
	}
	fclose(f);
	return 0;
}
