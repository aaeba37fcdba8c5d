/* The differential check of fuzz-compile (check.c), shared by the
 * libFuzzer target, its replayer and the seeded ctest run (diff.c). */
#ifndef NNCC_FUZZ_CHECK_H
#define NNCC_FUZZ_CHECK_H

#include "gen.h"

/* What one check runs: a pipeline, a kernel, the inputs. */
typedef struct plan {
	int level;        /* 0..3 */
	bool size;        /* -Os */
	bool prune, share, refit, workspace;
	char spec[512];   /* the pass pipeline */
	int kernel;       /* cg_options.force_kernel */
	int nonfinite;    /* percent of input elements NaN or Inf */
	uint32_t seed;    /* of the inputs and the calibration data */
} plan;

/* The -O pipeline alone, dense inputs, seed 0. */
void plan_lossless(plan *p, int level, bool size);
/* Checks g (borrowed; verified) under p; aborts on a finding. */
void check_graph(ir_graph *g, const plan *p, bool verbose);

/* Builds a pipeline and a graph from s and checks the whole compiler on
 * it (see fuzz_compile.c); aborts on a finding. Returns false if s made
 * no graph (nothing was checked). verbose: the graph and the pipeline to
 * stderr first. */
bool check_one(gen_src *s, bool verbose);

#endif
