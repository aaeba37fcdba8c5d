/* The differential check of fuzz-compile (check.c), shared by the
 * libFuzzer target, its replayer and the seeded ctest run (diff.c). */
#ifndef NNCC_FUZZ_CHECK_H
#define NNCC_FUZZ_CHECK_H

#include "gen.h"

/* Builds a pipeline and a graph from s and checks the whole compiler on
 * it (see fuzz_compile.c); aborts on a finding. Returns false if s made
 * no graph (nothing was checked). verbose: the graph and the pipeline to
 * stderr first. */
bool check_one(gen_src *s, bool verbose);

#endif
