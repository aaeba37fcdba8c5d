/* The object runs in its own FP mode (README "Floating-point contract"):
 * a caller with flush-to-zero and denormals-are-zero set, and rounding
 * toward zero, still gets Sign(1e-40) = 1 and denormals through Relu and
 * Add, and gets its own MXCSR back, also from an error return. Prints the results; exit 1 on error. */
#include <stdio.h>
#include <xmmintrin.h>

#include "fpenv.h"

int
main(void)
{
	float x[3] = {1e-40f, -1e-40f, 0}, s[3], r[3], a[3];
	const void *in[1] = {x};
	void *out[3] = {s, r, a};
	unsigned mode = _mm_getcsr() | 0x8040u | 0x6000u, after, after2;

	_mm_setcsr(mode);
	if (fpenv_run(in, out) != 0)
		return 1;
	after = _mm_getcsr() & ~0x3fu;
	/* the error return (a NULL input) restores it too */
	if (fpenv_run(NULL, out) == 0)
		return 1;
	after2 = _mm_getcsr() & ~0x3fu;
	_mm_setcsr(0x1f80u);
	for (int i = 0; i < 3; i++)
		printf("sign %.3g relu %.3g add %.3g\n", (double)s[i], (double)r[i],
		       (double)a[i]);
	printf("mxcsr %s\n", after == (mode & ~0x3fu) ? "restored" : "lost");
	printf("mxcsr after error %s\n",
	       after2 == (mode & ~0x3fu) ? "restored" : "lost");
	return 0;
}
