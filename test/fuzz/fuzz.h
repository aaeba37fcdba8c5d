/* Shared by the fuzz targets and the corpus replayer: the libFuzzer entry
 * point and a diagnostics sink that does not spam. */
#ifndef NNCC_FUZZ_H
#define NNCC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* /dev/null, opened once (NNCC_FUZZ_VERBOSE=1: stderr, for triage). */
FILE *fuzz_sink(void);

#endif
