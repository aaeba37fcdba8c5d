/* Internals of the lossy compression passes (prune.c, prune_rules.c,
 * share.c, compress_util.c, compress_report.c): weight-layer discovery,
 * the seeded RNG, the rules file and 1-D k-means. Unit tests use it too. */
#ifndef NNCC_COMPRESS_H
#define NNCC_COMPRESS_H

#include "passes.h"

/* splitmix64, the generator of docs/ir.md's random() fill. */
typedef struct cmp_rng {
	uint64_t s;
} cmp_rng;
uint64_t cmp_rng_next(cmp_rng *r);
double cmp_rng_unif(cmp_rng *r); /* [0, 1), 53 bits */
/* p[0..n) = a seeded uniform permutation of 0..n-1 (Fisher-Yates). */
void cmp_rng_perm(cmp_rng *r, int64_t *p, int64_t n);

/* What the pruning methods sort: a score (|w|, a row or tile norm, a
 * data-driven importance) and the element, row or tile it belongs to.
 * cmp_key_order is ascending by a, then layer, then i, so that equal
 * scores fall in a fixed order (docs/compression.md). */
typedef struct cmp_key {
	double a;
	int64_t i;
	int layer; /* global method: which layer; else 0 */
} cmp_key;
int cmp_key_order(const void *x, const void *y);

/* A weight layer: node n whose input `slot` is the weight constant w
 * (input 1; W or R, inputs 1 and 2, of LSTM/GRU/RNN: ir_weight_inputs),
 * seen as the 2-D matrix [rows = outputs, cols = reduction] (Conv:
 * [M, C/g*kh*kw]; Gemm: one row per output whatever transB; MatMul B
 * [..., K, N]: [N, batch*K]; ConvTranspose W [C, M/g, k...]: [M/g,
 * C*k]; LSTM/GRU/RNN W [D, G*H, I], R [D, G*H, H]: [D*G*H, I or H]).
 * Element (r, c) of the view is w's flat element
 * r*rs + (c / inner)*os + (c % inner)*is. */
typedef struct cmp_layer {
	ir_node *n;
	int slot;
	ir_value *w;
	int64_t rows, cols;
	int64_t rs, inner, os, is;
	const char *name; /* cmp_layer_name's, set by cmp_weight_layers */
} cmp_layer;
/* The weight layers of g in node order, each weight constant once (the
 * first node using it); malloc'd array, count in *n. Constants without
 * data or of a non-float type are left out. */
cmp_layer *cmp_weight_layers(ir_graph *g, int *n);
/* Whether op is a weight layer's (a WEIGHT row of ops.def: Conv,
 * ConvTranspose, Gemm, MatMul and their fused forms, LSTM, GRU, RNN). */
bool cmp_is_weight_op(ir_op op);
/* Whether whole rows of L may be pruned as neurons or channels (l1, l2,
 * apoz, activation): not for a recurrent layer's W and R, whose rows are
 * gate units tied to the rows of the other weight, B and the state. */
bool cmp_rows_free(const cmp_layer *L);
/* Reports a weight layer whose weight constant was parsed elided (no
 * data to compress); false if there is one. */
bool cmp_check_data(ir_graph *g, const char *pass, nn_diag *d);
/* Reports that g has no weight layer for `pass` to compress: asking to
 * prune or share a model without weights is a mistake, not a no-op. */
bool cmp_check_layers(int nlayers, const char *pass, nn_diag *d);
static inline int64_t
cmp_at(const cmp_layer *L, int64_t r, int64_t c)
{
	return r * L->rs + (c / L->inner) * L->os + (c % L->inner) * L->is;
}
/* Monotonic seconds, for the passes bounded in time. */
double cmp_now(void);
/* A progress line of a time-bounded pass ("PASS: [1.2s] ...", through
 * nn_progress: with --progress, or on a terminal), unless quiet; t0 is
 * the pass's cmp_now() at its start. */
void cmp_progress(nn_diag *d, bool quiet, const char *pass, double t0,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The layer's name for messages and rules: the node's name, else the
 * weight's, else its label; "NODE:W" and "NODE:R" for a recurrent
 * layer's two weights. */
const char *cmp_layer_name(const cmp_layer *L);
/* Makes w' (a new constant holding vals, converted to w's dtype) the
 * weight of every layer node that reads w in a weight slot. */
ir_value *cmp_replace_weight(ir_graph *g, ir_value *w, const double *vals);
/* Makes a new constant holding vals (as n->in[slot]'s type) input slot
 * of n alone, e.g. a layer's bias. */
ir_value *cmp_replace_input(ir_graph *g, ir_node *n, int slot,
			    const double *vals);

/* Prune methods and one layer's choice. */
typedef enum cmp_method {
	CMP_MAGNITUDE,
	CMP_GLOBAL,
	CMP_RANDOM,
	CMP_L1,
	CMP_L2,
	CMP_NM,
	CMP_BLOCK,
	CMP_DENSE,
	CMP_APOZ,       /* prune_data.c: need calibration data */
	CMP_ACTIVATION,
	CMP_WANDA,
	CMP_DEFAULT,    /* the policy of a plain --prune=S */
	CMP_NMETHODS
} cmp_method;
extern const char *const cmp_method_names[CMP_NMETHODS];
typedef struct cmp_spec {
	cmp_method method;
	double sparsity;
	int n, m;       /* N:M */
	int br, bc;     /* block rows x cols */
	uint64_t seed;
} cmp_spec;
cmp_method cmp_method_lookup(const char *s); /* CMP_NMETHODS if unknown */
/* "RxC" into *r, *c (both >= 1). */
bool cmp_parse_block(const char *s, int *r, int *c);
/* Checks ranges (sparsity in [0,1], 0 < n < m, blocks >= 1); reports
 * with `where` as the message prefix. */
bool cmp_spec_check(const cmp_spec *s, const char *where, nn_diag *d);
/* prune.c: prunes one layer's values v (n of them, w's flat layout) by
 * a per-layer method (not global, not dense) as pass `prune` does;
 * index is the layer's position among the weight layers (random's
 * seed). prune-auto applies its choices through it, so that the rules
 * file it writes gives the same weights. */
void cmp_prune_layer(const cmp_layer *L, double *v, int64_t n,
		     const cmp_spec *s, int index);

/* prune_rules.c: the rules file (docs/compression.md). */
typedef struct cmp_rule {
	char *pattern; /* fnmatch glob on the layer name */
	cmp_spec spec;
	int line, col;
} cmp_rule;
typedef struct cmp_rules {
	int n;
	cmp_rule *rule;
	char *path; /* for messages */
} cmp_rules;
/* Parses text (the contents of file `path`); every rule starts from dflt
 * and overrides what its line says. NULL after reporting
 * "PATH:LINE:COL: error: ..." */
cmp_rules *cmp_rules_parse(const char *text, const char *path,
			   const cmp_spec *dflt, nn_diag *d);
cmp_rules *cmp_rules_load(const char *path, const cmp_spec *dflt,
			  nn_diag *d);
/* The first rule matching name, or NULL. */
const cmp_rule *cmp_rules_match(const cmp_rules *r, const char *name);
/* Reports the first rule whose pattern matches none of the n layer names
 * (a typo would otherwise silently leave its layers to the defaults). */
bool cmp_rules_check_used(const cmp_rules *r, const char *const *names,
			  int n, nn_diag *d);
void cmp_rules_free(cmp_rules *r);

/* share.c: 1-D k-means (k-means++ seeding with a splitmix64 stream seeded
 * by `seed`, then Lloyd iterations until no assignment changes or
 * max_iter). Writes at most k distinct centroids, ascending, into c and
 * returns how many (fewer than k when x has fewer distinct values; 0 when
 * n == 0); *iters gets the Lloyd iteration count if not NULL. */
int cmp_kmeans_1d(const float *x, int64_t n, int k, uint64_t seed,
		  int max_iter, float *c, int *iters);

/* refit.c, refit_stats.c, refit_codes.c: layer-wise reconstruction. */
/* Statistics of one group of a layer (refit_stats.c): G [k+1, k+1] (row
 * and column k: the constant 1 of the bias), XY [k+1, mg], yy [mg]. */
typedef struct cmp_refit_group {
	double *g, *xy, *yy;
} cmp_refit_group;
typedef struct cmp_refit_stats {
	int64_t k, mg;       /* reduction length; outputs per group */
	int64_t ngroups;
	cmp_refit_group *group;
	int64_t nrows;       /* input rows seen (per group) */
	double yy_total;     /* sum of y^2 over everything (> 0) */
} cmp_refit_stats;
typedef struct cmp_refit {
	cmp_layer cl;        /* the layer in the compressed graph */
	ir_node *n, *t;      /* its node; the teacher's */
	ir_value *bias;      /* the bias constant, or NULL */
	double alpha, beta;  /* Gemm's; 1 otherwise */
	bool conv;
	ir_window win;       /* Conv: window, map, kernel/position counts */
	int64_t *map;
	int64_t kn, pout, pin, cin;
	bool dense;          /* solve every weight, zeros too (slim) */
	cmp_refit_stats st;
} cmp_refit;
/* Sets L up for layer cl of g: false (nothing to do) if the teacher has
 * no such layer, if it is not compressed (unless all), or if refit does
 * not handle it (warned). */
bool cmp_refit_init(cmp_refit *L, ir_graph *g, const pass_env *e,
		    const cmp_layer *cl, bool all, nn_diag *d);
/* cmp_refit_init for a layer whose input width may differ from its
 * teacher's (slim removed the layer before it): the teacher node by
 * name, the same op and output shape; every weight is solved (dense). */
bool cmp_refit_init_any(cmp_refit *L, ir_graph *g, const pass_env *e,
			const cmp_layer *cl, nn_diag *d);
void cmp_refit_fini(cmp_refit *L);
/* Refits layer cl of g (as cmp_refit_init with all, or _init_any with
 * any_width), logging the reconstruction error to e; *done says whether
 * it did (the layer may have no teacher). False on an error. */
bool cmp_refit_one(ir_graph *g, pass_env *e, const cmp_layer *cl, bool all,
		   bool any_width, double damp, nn_diag *d, bool *done);
/* Runs teacher and g over e->calib, accumulating L's statistics. */
bool cmp_refit_gather(cmp_refit *L, ir_graph *g, pass_env *e, nn_diag *d);
/* New weight (flat, w's layout) and bias (or NULL) for L's node. */
void cmp_refit_store(cmp_refit *L, ir_graph *g, const double *w,
		     const double *b);
/* The effective weights of row r of group gi: k values (times alpha),
 * then the bias (times beta; 0 without one). */
void cmp_refit_get_row(const cmp_refit *L, int64_t gi, int64_t r,
		       double *w);
/* ||X w - y||^2 of group s's output r for w as cmp_refit_get_row's. */
double cmp_refit_row_error(const cmp_refit_stats *st,
			   const cmp_refit_group *s, int64_t r,
			   const double *w);
/* Solves a x = b (a symmetric positive semi-definite, n x n) in place
 * (b gets x) with damping damp * mean(diag a), raised until the Cholesky
 * factorization succeeds; false if it never does. */
bool cmp_solve_spd(double *a, double *b, int n, double damp);
/* cmp_solve_spd for nrhs right-hand sides at once (b: n x nrhs,
 * column-major, one factorization for all of them). */
bool cmp_solve_spd_n(double *a, double *b, int n, int nrhs, double damp);
/* Solves row r of group s of L in place: w (cmp_refit_get_row's layout)
 * gets the least-squares weights over its non-zero entries (all of them
 * if L->dense) and the bias; zeros stay zero. */
void cmp_refit_solve_row(const cmp_refit *L, const cmp_refit_group *s,
			 int64_t r, double *w, double damp);
/* Shared weights: the centroids of L's codebook (codes fixed, a zero
 * centroid kept) and the biases, refit together; *err0 and *err1 get
 * the squared error before and after. */
void cmp_refit_codes(cmp_refit *L, ir_graph *g, double damp, double *err0,
		     double *err1);
/* Whether another layer of g holds the same codebook as w (one codebook
 * across layers): changing it for w alone would split it. */
bool cmp_book_shared(ir_graph *g, const ir_value *w);

/* distill.c, distill_train.c: knowledge distillation of the trailing
 * fully-connected head (Gemm/MatMul with constant weights and the
 * elementwise activations between them) on the KD loss against the
 * teacher's logits. The head is held as effective f32 matrices (alpha
 * and beta folded in) that the trainer updates in place. */
typedef struct cmp_kd_act {
	ir_op op;
	float a, b;        /* LeakyRelu/Elu alpha, Clip bounds, HardSigmoid */
} cmp_kd_act;
#define CMP_KD_MAX_ACTS 4
typedef struct cmp_kd_layer {
	cmp_layer cl;      /* the node and its weight's 2-D view */
	ir_value *bias;    /* the bias constant, or NULL */
	float alpha, beta; /* Gemm's; 1 otherwise */
	int64_t in, out;   /* cl.cols, cl.rows */
	float *w;          /* [out, in] effective weights (alpha * w) */
	float *b;          /* [out] effective bias (beta * c); 0 without */
	uint8_t *mask;     /* [out, in]: 1 where a weight may move */
	int ncodes;        /* shared weights: the centroids are the params */
	float *cb;         /* [ncodes] effective centroids (alpha * c) */
	uint8_t *code;     /* [out, in] code of every view element */
	bool book_fixed;   /* one codebook across layers: left as it is */
	int nact;
	cmp_kd_act act[CMP_KD_MAX_ACTS]; /* applied after the layer */
} cmp_kd_layer;
typedef struct cmp_kd_head {
	int n;
	cmp_kd_layer *l;   /* in network order */
	int64_t rows;      /* calibration rows (samples) */
	int64_t classes;   /* the logits' last dimension */
	float *x;          /* [rows, l[0].in] the head's inputs */
	float *t;          /* [rows, classes] the teacher's logits */
} cmp_kd_head;
typedef struct cmp_kd_opts {
	double temp, lr, time;
	int64_t iters, batch;
	uint64_t seed;
} cmp_kd_opts;
typedef struct cmp_kd_result {
	double loss0, loss1;   /* mean KD loss (T^2 KL) before and after */
	double agree0, agree1; /* top-1 agreement with the teacher */
	int64_t iters, best;   /* steps taken; the step the kept params had */
	bool timed_out;
	double seconds;
} cmp_kd_result;
/* The head's logits for rows x [n, l[0].in] into y [n, classes]. */
void cmp_kd_forward(const cmp_kd_head *h, const float *x, int64_t n,
		    float *y);
/* Mean KD loss over all rows at temperature temp; *agree gets the top-1
 * agreement. */
double cmp_kd_loss(const cmp_kd_head *h, double temp, double *agree);
/* Adam on the KD loss, mini-batches of o->batch rows (seeded shuffles),
 * at most o->iters steps and o->time seconds; leaves h with the
 * parameters of the lowest full loss seen (the initial ones included). */
void cmp_kd_train(cmp_kd_head *h, const cmp_kd_opts *o, cmp_kd_result *r);

/* prune_data.c: the data-driven prune methods and the default policy. */
/* Whether n's output reaches a graph output through no other weight
 * layer (the classifier): structured methods never prune its rows. */
bool cmp_is_output_layer(const ir_graph *g, const ir_node *n);
/* Prunes the apoz, activation and wanda layers of specs into vals (the
 * layers' weights, flat) from statistics of g on e->calib; structured
 * methods also replace the bias. A layer a method cannot score is left
 * dense (apoz, activation) or pruned by magnitude (wanda), warned; its
 * spec says so afterwards. */
bool cmp_prune_data(ir_graph *g, pass_env *e, const cmp_layer *L, int nl,
		    cmp_spec *specs, double **vals, nn_diag *d);
/* Rewrites every CMP_DEFAULT spec into the methods and sparsities of the
 * default policy (data: calibration data is at hand). */
void cmp_resolve_default(ir_graph *g, const cmp_layer *L, int nl,
			 cmp_spec *specs, bool data);

#endif
