/* Helpers shared by the lossless optimizer passes (const_fold.c ...
 * dce.c): graph-output-aware value replacement and constant building.
 * Internal to passes/; the public entries are in passes.h. */
#ifndef NNCC_OPT_UTIL_H
#define NNCC_OPT_UTIL_H

#include "passes.h"

/* opt_util.c */
bool pass_is_output(const ir_graph *g, const ir_value *v);
/* Whether every use of `from` may become `to` while graph outputs keep
 * their ONNX names: true unless from is a graph output and `to` cannot
 * take its name (to is an input, a constant, or another graph output). */
bool pass_can_replace(const ir_graph *g, const ir_value *from,
		      const ir_value *to);
/* Replaces every use of from by to; if from was a graph output, to takes
 * its name. Call pass_can_replace first. Uses are left stale. */
void pass_replace(ir_graph *g, ir_value *from, ir_value *to);
/* pass_replace through from's use list instead of a scan of the graph:
 * only when every real use of `from` is in its list (the list may name
 * extra, stale uses: those are checked and skipped). */
void pass_replace_listed(ir_graph *g, ir_value *from, ir_value *to);

/* A set of values (open addressing on the pointer), for passes that
 * rewrite many times per use computation: the values whose use lists
 * may miss uses since the last ir_compute_uses. */
typedef struct pass_vset {
	const ir_value **slot;
	size_t cap, n;
} pass_vset;
void pass_vset_add(pass_vset *s, const ir_value *v);
bool pass_vset_has(const pass_vset *s, const ir_value *v);
void pass_vset_clear(pass_vset *s);
void pass_vset_free(pass_vset *s);

/* A rewrite of node n for pass_sweep: true if it changed the graph; it
 * may set *next to the node to continue with (default: n's old next). */
typedef bool (*pass_rewrite_fn)(ir_graph *g, ir_node *n, pass_vset *dirty,
				ir_node **next);
/* Applies rw to every node, sweep after sweep (uses recomputed and dirty
 * cleared before each), until a sweep changes nothing or max_sweeps ran.
 * Returns the number of rewrites; leaves uses stale. */
int pass_sweep(ir_graph *g, pass_rewrite_fn rw, int max_sweeps);

/* A new unnamed constant of the given type with zeroed data for the
 * caller to fill; call ir_const_facts when done. */
ir_value *pass_new_const(ir_graph *g, ir_dtype t, const ir_shape *s);
/* A constant from doubles (converted to t). vals is borrowed. */
ir_value *pass_const_f64(ir_graph *g, ir_dtype t, const ir_shape *s,
			 const double *vals);
/* The value's elements as doubles (malloc'd; caller frees), or NULL if it
 * has no data. */
double *pass_load_f64(const ir_value *v);
/* The only node using v, or NULL (needs ir_compute_uses). */
ir_node *pass_sole_user(const ir_value *v);
/* Whether v is a constant with data (not elided). */
bool pass_has_data(const ir_value *v);
/* Removes constants nothing uses from g->consts; returns how many. */
int pass_drop_unused_consts(ir_graph *g);

/* fold_affine.c (eliminate-layers): folds u, a BatchNormalization or a
 * Mul/Add/Sub/Div by a per-channel or scalar constant, into the
 * Conv/Gemm/MatMul producing its input when u is that value's only user;
 * returns 1 if it did. Needs uses (not those of values in dirty); leaves
 * them stale. */
int pass_fold_affine_into_producer(ir_graph *g, ir_node *u,
				   const pass_vset *dirty);
/* Folds u, an inference BatchNormalization or a Mul/Add/Sub/Div by a
 * per-channel constant, whose only reader is a zero-padded Conv or a Gemm
 * (as A), into that layer; 1 if done. */
int pass_fold_bn_into_consumer(ir_graph *g, ir_node *u);

#endif
