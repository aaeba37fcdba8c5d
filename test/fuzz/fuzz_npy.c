/* Fuzz target: .npy bytes -> nnrt_npy_read_mem (the runtime's reader that
 * nncc-run and user harnesses use). */

#include "fuzz.h"
#include "nnrt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nnrt_array a;
	char err[256];
	if (nnrt_npy_read_mem(data, size, &a, err, sizeof err) == 0) {
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
	return 0;
}
