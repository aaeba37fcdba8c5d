/* Passes over the IR: a registry of named passes (passes.def), options,
 * and the pass manager that runs a pipeline of them. */
#ifndef NNCC_PASSES_H
#define NNCC_PASSES_H

#include "ir.h"

/* Options of one pass instance: `name{key=value,...}`. */
typedef struct pass_opt {
	const char *key, *value;
} pass_opt;

typedef struct pass_env pass_env;
typedef struct pass_opts {
	int n;
	pass_opt *opt;
	pass_env *env; /* the run's data and teacher (set by the manager) */
} pass_opts;

typedef bool (*pass_fn)(ir_graph *g, const pass_opts *o, nn_diag *d,
			bool *changed);

typedef struct pass_info {
	const char *name;
	pass_fn fn;
	bool lossy; /* may change outputs: the teacher is taken before it */
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
	/* Data for the data-driven passes, or NULL. Before the first lossy
	 * step the manager sets env->teacher to a copy of the graph (if
	 * unset); with env->stages, it logs the fidelity after every lossy
	 * step to env's log. */
	pass_env *env;
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
/* refit.c (with refit_stats.c, refit_codes.c) */
bool pass_refit(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* prune_auto.c */
bool pass_prune_auto(ir_graph *g, const pass_opts *o, nn_diag *d,
		     bool *changed);
/* distill.c (with distill_train.c) */
bool pass_distill(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* slim.c */
bool pass_slim(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed);
/* select_features.c */
bool pass_select_features(ir_graph *g, const pass_opts *o, nn_diag *d,
			  bool *changed);

/* calib.c: what the data-driven passes share (docs/compression.md). */
typedef struct pass_fidelity pass_fidelity;
/* Samples for every graph input, in graph order: x[i] holds nsamples
 * samples of input i along dim 0 (dense, the input's dtype), each the
 * input's shape without its batch dimension; runs take them a batch
 * (the graph's dim 0) at a time. */
/* One record of what a data-driven pass did, for --report: its kind
 * ("stage", "refit", ...: docs/report-json.md lists them and their
 * fields), the layer it is about (or NULL), named figures, and the text
 * line --report prints for it (or NULL: the JSON and SVG reports only).
 * The figures and the line are made from the same values at once. */
#define PASS_MAX_FIELDS 12
typedef struct pass_field {
	const char *key; /* a static string */
	double num;      /* the figure, when str is NULL */
	const char *str; /* a string value (copied into the event), or NULL */
	bool is_bool;    /* num is a yes/no (0 or 1) */
} pass_field;
typedef struct pass_event {
	const char *kind;  /* a static string */
	char *layer;       /* owned, or NULL */
	int nfields;
	pass_field field[PASS_MAX_FIELDS]; /* str owned */
	char *text;        /* owned, or NULL */
} pass_event;
typedef struct pass_data {
	int ninputs;             /* 0: no data */
	const void **x;          /* [ninputs] */
	int64_t nsamples;
	ir_dtype *dtype;         /* [ninputs]: the samples' types */
	ir_shape *shape;         /* [ninputs]: dim 0 is nsamples */
	const int64_t *labels;   /* nsamples class indices, or NULL */
	const char *what;        /* for messages: "--calib x.npy" */
	void **owned;            /* what pass_data_free frees, or NULL */
	int64_t *labels_owned;
} pass_data;
struct pass_env {
	pass_data calib;  /* the samples the passes learn from */
	pass_data eval;   /* --eval: where fidelity is measured; else calib */
	pass_data search; /* pass_env_search's mixtures (owned), or empty */
	ir_graph *teacher;/* the uncompressed graph (owned), or NULL */
	bool refit;       /* the driver adds refit after prune/share */
	bool stages;      /* log fidelity after every lossy step */
	double tolerance; /* < 0: none */
	double distill_t; /* --distill temperature; 0: no distillation */
	uint64_t seed;
	char *log;        /* --report lines of the passes, or NULL */
	pass_event *events; /* the figures behind them (and more: the
			     * prune-auto sweep), nevents of them */
	int nevents, capevents;
	bool said_recurrent; /* refit has warned of the recurrent weights it
			      * leaves (once a run, not at every step) */
};
pass_env *pass_env_new(void);
void pass_env_free(pass_env *e); /* frees the teacher, log and search set,
				   not calib or eval */
/* The set fidelity is measured on: eval if given, else calib. */
const pass_data *pass_env_eval(const pass_env *e);
/* The set the tolerance searches (prune-auto, slim, select-features)
 * measure on: eval if given; else, when the loss is the top-1 agreement
 * (no labels) and every input is f32, the calibration samples followed
 * by as many mixtures 0.85 x_i + 0.15 x_p(i) (p a seeded permutation),
 * made once and owned by e; else calib (docs/compression.md). */
const pass_data *pass_env_search(pass_env *e);
/* o's env if it has calibration data that fits g and a teacher, else
 * NULL after saying what `pass` is missing. */
pass_env *pass_need_data(const pass_opts *o, ir_graph *g, const char *pass,
			 nn_diag *d);
/* Records an event (kind and the keys of f static; layer, the string
 * values and the line copied) and appends its line (printf format, no
 * newline; fmt NULL: none) to e->log. Nothing without e. */
void pass_env_record(pass_env *e, const char *kind, const char *layer,
		     const pass_field *f, int nf, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* A field of each type, and the fields of a record as an array and its
 * length: pass_env_record(e, "refit", name, PASS_FIELDS(PF_NUM("rows",
 * 12), PF_STR("what", "weights")), "..."). */
#define PF_NUM(k, v) {(k), (double)(v), NULL, false}
#define PF_STR(k, s) {(k), 0, (s), false}
#define PF_BOOL(k, b) {(k), (b) ? 1 : 0, NULL, true}
#define PASS_FIELDS(...) (const pass_field[]){__VA_ARGS__}, \
	(int)(sizeof (const pass_field[]){__VA_ARGS__} / sizeof(pass_field))
/* Where e's records end, and going back there: what a trial logged is
 * dropped (prune-auto's and slim's searches report only their choice). */
typedef struct pass_env_mark {
	int nevents;
	size_t loglen;
} pass_env_mark;
pass_env_mark pass_env_save(const pass_env *e);
void pass_env_rewind(pass_env *e, pass_env_mark m);

/* The teacher's node for student node n: the one of the same name, else
 * the one at the same position when both graphs have as many nodes and
 * it has n's op; NULL if none. */
ir_node *pass_teacher_node(const pass_env *e, ir_graph *student,
			   const ir_node *n);
/* The graph's batch: dim 0 of input 0 (1 for a scalar input). */
int64_t pass_data_batch(const ir_graph *g);
/* Checks x against g: one set per input of its type and shape but for
 * dim 0, each input batched along dim 0 like input 0, a whole number of
 * batches. Reported with x->what. */
bool pass_data_check(const ir_graph *g, const pass_data *x, nn_diag *d);
/* Pointers to the batch of samples starting at sample s0, per input. */
void pass_data_inputs(const ir_graph *g, const pass_data *x, int64_t s0,
		      const void **in);
/* ir_run_hooked on the batch at s0 (out may be NULL if hook stops). */
bool pass_data_run(ir_graph *g, const pass_data *x, int64_t s0,
		   void *const *out, const ir_run_hook *hook, nn_diag *d);
/* nsamples seeded uniform [-1, 1) samples of every f32 input (zeros for
 * other types), owned by x. */
void pass_data_random(const ir_graph *g, int64_t nsamples, uint64_t seed,
		      pass_data *x);
void pass_data_free(pass_data *x);

/* compress_report.c: what compression cost and saved. */
struct pass_fidelity {
	int64_t nsamples;
	double max_abs;     /* max |compressed - reference| over all outputs */
	double max_rel;     /* max over outputs of max_abs / max |reference| */
	int64_t agree;      /* samples whose output-0 top-1 class agrees */
	double top1_agree;  /* agree / nsamples */
	int64_t correct;    /* with labels: compressed model's correct top-1 */
	double accuracy;    /* correct / nsamples; -1 without labels */
	int64_t ref_correct;/* with labels: the reference model's */
	double ref_accuracy;/* -1 without labels */
};
/* Runs both graphs (same inputs and outputs, batched along dim 0) with
 * ir_run on the samples of x (pass_data_check); x->labels, if any, give
 * accuracies. Top-1 is the argmax of output 0's per-sample row, which
 * must be [B, classes]-shaped. */
bool pass_measure_fidelity(ir_graph *reference, ir_graph *compressed,
			   const pass_data *x, pass_fidelity *out,
			   nn_diag *d);

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
/* The fidelity line (and the accuracy line with labels); note says what
 * the samples were. */
void pass_print_fidelity(FILE *f, const pass_fidelity *fid,
			 const char *note);
void pass_print_report(FILE *f, ir_graph *before, ir_graph *after,
		       const pass_fidelity *fid, const char *calib_note);

#endif
