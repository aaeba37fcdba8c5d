/* Timing helpers for benchmarks and harnesses: a monotonic clock.
 * Depends on libc (POSIX clock_gettime) only. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#endif
#include "nnrt.h"

#include <time.h>

double
nnrt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
