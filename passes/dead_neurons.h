/* Internal to dead_neurons.c and dead_neurons_shrink.c: the channel group
 * the analysis finds, and the weight helpers both halves use. */
#ifndef NNCC_DEAD_NEURONS_H
#define NNCC_DEAD_NEURONS_H

#include "opt_util.h"

#define DN_MAX_VALS 128
#define DN_MAX_NODES 64

/* Where channel c lives in a value: along `axis`, as `blk` consecutive
 * positions starting at (off + c) * blk, among `total` such blocks (blk >
 * 1 after a Flatten; off > 0 and total > m after a Concat). */
typedef struct dn_layout {
	int rank, axis;
	int64_t blk, off, total;
} dn_layout;

typedef struct dn_step {
	ir_node *n;
	dn_layout at; /* layout of the step's input(s) */
	bool join;    /* an Add of two group values (a residual) */
	int slot;     /* the input that is a group value (map steps) */
} dn_step;

typedef struct dn_leaf {
	ir_node *n;   /* a layer reading a group value as input 0 */
	dn_layout at;
	int vi;       /* index of that value in val[] */
} dn_leaf;

/* Values whose channel c is the same channel: the outputs of producers
 * (layers whose rows define it), values derived by steps, and joined by
 * residual Adds. Leaves read them; removing c touches all of them. */
typedef struct dn_group {
	int64_t m;
	ir_node *prod[DN_MAX_NODES];
	int nprod;
	dn_step step[DN_MAX_NODES]; /* in graph order once found */
	int nsteps;
	dn_leaf leaf[DN_MAX_NODES];
	int nleaves;
	ir_value *val[DN_MAX_VALS];
	dn_layout vat[DN_MAX_VALS];
	int nvals;
} dn_group;

/* dead_neurons_shrink.c */
/* W's output-channel axis and input axis for a group-1 Conv, a Gemm
 * reading A plainly, or a MatMul of 2-D operands (with constant float
 * weights and bias); false for anything else. */
bool pass_dn_w_axes(const ir_node *n, int *oax, int *iax);
/* Whether v's block c (blk positions) along ax is all zero. */
bool pass_dn_block_zero(const ir_value *v, int ax, int64_t blk, int64_t c);
/* The axis of constant c (right-aligned against y) that carries the
 * layout's channels, -1 when c is 1 there, -2 when c does not fit. */
int pass_dn_const_axis(const ir_value *c, const ir_value *y,
		       const dn_layout *l);
/* Removes the channels with keep[c] false from every producer, step
 * constant, Reshape target and leaf; k[l * m + c] is the constant leaf l
 * saw on dead channel c, added into its bias. The carrier, a dead channel
 * kept for the NaN it carries (or -1), is folded into the leaves' bias
 * too and their weights for it become zero. */
void pass_dn_shrink(ir_graph *g, const dn_group *gr, const bool *keep,
		    const double *k, int64_t carrier);

#endif
