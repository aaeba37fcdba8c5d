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
bool pass_pipeline_run(pass_pipeline *p, ir_graph *g,
		       const pass_run_opts *o, nn_diag *d);

/* The passes: each returns false after reporting an error; *changed says
 * whether the graph changed. */
/* verify.c (passes/): runs ir_verify. */
bool pass_verify(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* shape_infer.c: runs ir_infer_shapes. */
bool pass_shape_infer(ir_graph *g, const pass_opts *o, nn_diag *d,
		      bool *changed);

#endif
