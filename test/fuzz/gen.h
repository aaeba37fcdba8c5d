/* The graph generator of fuzz-compile: a stream of choices (the fuzz
 * input, or seeded random bytes) becomes a valid IR graph built from the
 * op table, one generator per op (gen_ops.c). */
#ifndef NNCC_FUZZ_GEN_H
#define NNCC_FUZZ_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* The choices: bytes read in order; past the end every choice is 0 (the
 * first option), so a short input still makes a small graph. */
typedef struct gen_src {
	const uint8_t *p;
	size_t n, pos;
} gen_src;

unsigned gen_byte(gen_src *s);
/* Uniform-ish in [lo, hi] (inclusive; hi - lo < 65536). */
int gen_int(gen_src *s, int lo, int hi);
/* True with roughly pct percent (a zero choice is false). */
bool gen_chance(gen_src *s, int pct);
float gen_float(gen_src *s); /* [-1, 1], a zero choice gives 0 */

#define GEN_MAX_POOL 64
#define GEN_MAX_NUMEL 2048 /* elements of any value the generator makes */

typedef struct gen {
	ir_graph *g;
	gen_src *s;
	nn_diag *d;            /* shape errors of rejected nodes go here */
	ir_value *pool[GEN_MAX_POOL]; /* values a new node may read */
	int npool;
	int nnodes, ninputs;
	char name[32];
} gen;

/* Which values a generator reads. */
typedef enum gen_want {
	GEN_F32,   /* f32 */
	GEN_FLOAT, /* any float type */
	GEN_NUM,   /* float or integer */
	GEN_INT,   /* integer */
	GEN_BOOL,
	GEN_ANY,
	/* or'ed in: a float value computed without rounding that another
	 * order of operations could change (inputs, constants, copies,
	 * max/min, exact unary ops). Ops with a jump (Floor, ArgMax, a
	 * comparison, a cast to an integer) or a pole (Log, Div) read only
	 * these, so that the object's and the interpreter's legitimately
	 * different summation orders cannot flip their result. */
	GEN_EXACT = 0x100
} gen_want;

/* gen.c: what the op generators build with. */
/* A pool value of the wanted type and rank in [rmin, rmax], else a new
 * graph input of that kind (NULL if the pool is full). */
ir_value *gen_pick(gen *z, gen_want w, int rmin, int rmax);
bool gen_exact(const ir_value *v);
/* Another pool value whose shape broadcasts with x's (same type), else a
 * constant of a shape that does. */
ir_value *gen_partner(gen *z, const ir_value *x);
/* A new f32 graph input of a random shape of rank r. */
ir_value *gen_input(gen *z, ir_dtype t, int r);
/* A constant of random values (floats in [-1, 1] with some exact zeros
 * and repeats; integers in [-3, 3]; bools). */
ir_value *gen_const(gen *z, ir_dtype t, const ir_shape *s);
ir_value *gen_ints(gen *z, int n, const int64_t *v); /* i64 [n] */
ir_value *gen_scalar(gen *z, ir_dtype t, double v);  /* rank 0 */
void gen_shape(gen *z, int rank, ir_shape *s);       /* random dims */
/* The node of op with inputs in (NULL: omitted) and nout outputs. */
ir_node *gen_node(gen *z, ir_op op, int nin, ir_value *const *in, int nout);
void gen_attr_int(gen *z, ir_node *n, const char *name, int64_t v);
void gen_attr_float(gen *z, ir_node *n, const char *name, double v);
void gen_attr_str(gen *z, ir_node *n, const char *name, const char *v);
void gen_attr_strs(gen *z, ir_node *n, const char *name, int k,
		   const char *const *v);
void gen_attr_ints(gen *z, ir_node *n, const char *name, int k,
		   const int64_t *v);
/* Runs n's shape hook (and folds it as inference would); on success its
 * outputs join the pool, else the node is removed. Returns success. */
bool gen_finish(gen *z, ir_node *n);

/* gen_ops.c: the generators, by op. */
typedef bool (*gen_op_fn)(gen *z, ir_op op);
extern const gen_op_fn gen_ops[IR_NOPS]; /* NULL: not generated */
/* Ops generated on purpose by no generator, each with the reason: the
 * unit check (fuzz-compile --check-ops) fails for any other op without
 * one, so that a new op in ops.def is noticed. */
typedef struct gen_skip {
	ir_op op;
	const char *why;
} gen_skip;
extern const gen_skip gen_skipped[];
extern const int gen_nskipped;
/* gen_signal.c: the signal and loss ops. */
bool gen_signal(gen *z, ir_op op);
bool gen_loss(gen *z, ir_op op);

/* A graph of up to max_nodes nodes from s (diagnostics of rejected
 * choices to d); it verifies. NULL if it came out empty. */
ir_graph *gen_graph(gen_src *s, int max_nodes, nn_diag *d);

#endif
