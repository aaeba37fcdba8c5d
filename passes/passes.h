/* Passes over the IR: a registry of named passes (passes.def), options,
 * and the pass manager that runs a pipeline of them. */
#ifndef NNCC_PASSES_H
#define NNCC_PASSES_H

#include "ir.h"

/* Options of one pass instance: `name{key=value,...}`. */
typedef struct pass_opt {
	const char *key, *value;
} pass_opt;

typedef struct pass_opts {
	int n;
	pass_opt *opt;
} pass_opts;

typedef bool (*pass_fn)(ir_graph *g, const pass_opts *o, nn_diag *d,
			bool *changed);

typedef struct pass_info {
	const char *name;
	pass_fn fn;
	const char *help;
} pass_info;

/* manager.c */
extern const pass_info pass_table[];
extern const int pass_count;
const pass_info *pass_lookup(const char *name);
/* Option accessors; a malformed value is reported to d (naming the pass
 * and key) and sets *ok to false. */
const char *pass_opt_str(const pass_opts *o, const char *key,
			 const char *dflt);
double pass_opt_f64(const pass_opts *o, const char *pass, const char *key,
		    double dflt, nn_diag *d, bool *ok);
int64_t pass_opt_i64(const pass_opts *o, const char *pass, const char *key,
		     int64_t dflt, nn_diag *d, bool *ok);
/* Reports every option of o whose key is not in the NULL-terminated list
 * keys (NULL: the pass takes no options); false if there was one. */
bool pass_opts_allow(const pass_opts *o, const char *pass,
		     const char *const *keys, nn_diag *d);

typedef struct pass_pipeline pass_pipeline;
typedef struct pass_run_opts {
	bool verify_each;
	bool print_after_all;
	const char *print_after; /* a pass name, or NULL */
	bool print_stats;        /* per-pass table to stderr */
	FILE *dump;              /* where IR dumps go; stderr if NULL */
} pass_run_opts;
/* Parses "a,b{k=v},c" into a pipeline; NULL after reporting an unknown
 * pass or malformed option list. */
pass_pipeline *pass_pipeline_parse(const char *spec, nn_diag *d);
void pass_pipeline_free(pass_pipeline *p);
/* Adds key=value to every step of pass `pass` in p, for values the text
 * form cannot carry (a file path with ',' or '}'); value must outlive p.
 * False if p has no such step. */
bool pass_pipeline_add_opt(pass_pipeline *p, const char *pass,
			   const char *key, const char *value);
bool pass_pipeline_run(pass_pipeline *p, ir_graph *g,
		       const pass_run_opts *o, nn_diag *d);
/* The pipeline spec of -O<level> (0..3; size: -Os), for
 * pass_pipeline_parse: "" for -O0. A static string. */
const char *pass_pipeline_for_level(int level, bool size);

/* The passes: each returns false after reporting an error; *changed says
 * whether the graph changed. */
/* verify.c (passes/): runs ir_verify. */
bool pass_verify(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* shape_infer.c: runs ir_infer_shapes. */
bool pass_shape_infer(ir_graph *g, const pass_opts *o, nn_diag *d,
		      bool *changed);

/* The lossless optimizer passes (one file each; see passes.def). */
/* const_fold.c */
bool pass_const_fold(ir_graph *g, const pass_opts *o, nn_diag *d,
		     bool *changed);
/* eliminate_layers.c */
bool pass_eliminate_layers(ir_graph *g, const pass_opts *o, nn_diag *d,
			   bool *changed);
/* dead_neurons.c */
bool pass_dead_neurons(ir_graph *g, const pass_opts *o, nn_diag *d,
		       bool *changed);
/* dedup_weights.c */
bool pass_dedup_weights(ir_graph *g, const pass_opts *o, nn_diag *d,
			bool *changed);
/* fuse.c */
bool pass_fuse(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* dce.c */
bool pass_dce(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);

/* The lossy compression passes (docs/compression.md); opt-in only. */
/* prune.c */
bool pass_prune(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* share.c */
bool pass_share_weights(ir_graph *g, const pass_opts *o, nn_diag *d,
			bool *changed);

/* compress_report.c: what compression cost and saved. */
typedef struct pass_fidelity {
	int64_t nsamples;
	double max_abs;     /* max |compressed - reference| over all outputs */
	double max_rel;     /* max over outputs of max_abs / max |reference| */
	int64_t agree;      /* samples whose output-0 top-1 class agrees */
	double top1_agree;  /* agree / nsamples */
	int64_t correct;    /* with labels: compressed model's correct top-1 */
	double accuracy;    /* correct / nsamples; -1 without labels */
	int64_t ref_correct;/* with labels: the reference model's */
	double ref_accuracy;/* -1 without labels */
} pass_fidelity;
/* Runs both graphs (same inputs and outputs: one f32 input whose dim 0 is
 * the batch B) with ir_run on calib, which holds nsamples samples along
 * dim 0 of input 0 (nsamples a multiple of B); labels (int64, one per
 * sample, or NULL) give accuracies. Top-1 is the argmax of output 0's
 * per-sample row, which must be [B, classes]-shaped. */
bool pass_measure_fidelity(ir_graph *reference, ir_graph *compressed,
			   const void *calib, int64_t nsamples,
			   const int64_t *labels, pass_fidelity *out,
			   nn_diag *d);
/* nsamples seeded uniform [-1, 1) samples for g's input 0 (f32), for
 * when no --calib file is given; malloc'd, caller frees. */
float *pass_random_calib(const ir_graph *g, int64_t nsamples,
			 uint64_t seed);

/* One weight layer (Conv/ConvTranspose/Gemm/MatMul and fused forms). */
typedef struct pass_layer_stat {
	const char *name;   /* node name or weight label (graph-owned) */
	const char *op;
	int64_t params, nnz;
	double sparsity;    /* 1 - nnz / params */
	int ncodes;         /* shared-weight codebook size, 0 if none */
	int64_t dense_bytes;  /* params * 4 (f32) */
	int64_t packed_bytes; /* codes at ceil(log2 ncodes) bits + the f32
				 codebook; dense_bytes without a codebook */
} pass_layer_stat;
/* The weight layers of g in node order; malloc'd, count in *n. */
pass_layer_stat *pass_layer_stats(ir_graph *g, int *n);
/* The --report table: per layer of `after`, then totals of weight bytes
 * before (dense graph) and after, then the fidelity lines if fid is not
 * NULL (calib_note, e.g. "64 seeded random inputs (no --calib)", says
 * what the samples were). */
void pass_print_report(FILE *f, ir_graph *before, ir_graph *after,
		       const pass_fidelity *fid, const char *calib_note);

#endif
