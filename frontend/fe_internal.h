/* Private to frontend/: the import context shared by the importer's files.
 * The only header outside the build tree that includes protobuf-c's. */
#ifndef NNCC_FE_INTERNAL_H
#define NNCC_FE_INTERNAL_H

#include "frontend.h"
#include "onnx.pb-c.h"

/* A string-keyed hash map (keys borrowed), storage in the decode arena. */
typedef struct fe_map {
	const char **keys;
	void **vals;
	size_t cap, len;
} fe_map;

/* The outer values the graph attributes of one node capture, in order of
 * first use (they become the node's trailing inputs). */
typedef struct fe_caps {
	ir_value **v;
	int n;
} fe_caps;

/* An enclosing graph while one of its node's graph attributes imports:
 * its graph, its names, and that node's captures. */
typedef struct fe_frame {
	struct fe_frame *up;
	ir_graph *g;
	fe_map values;
	fe_caps *caps;
} fe_frame;

typedef struct fe_ctx {
	nn_diag *d;
	const fe_options *o;
	nn_arena *tmp;    /* protobuf decode and scratch; dropped after import */
	ir_graph *g;
	const char *path; /* the model file, as given; NULL when in memory */
	char *dir;        /* realpath of its folder, resolved on first use */
	fe_map values;    /* ONNX name -> ir_value* defined so far */
	int64_t opset;
	ir_node *typed;   /* the last node an Einsum's inference typed */
	fe_frame *up;     /* the enclosing graphs of a subgraph, or NULL */
	fe_map dims;      /* symbolic dimension -> its value + 1 (intptr) */
	fe_caps *caps;    /* the captures of the node whose attributes
			     decode */
} fe_ctx;

/* import.c */
void *fe_map_get(const fe_map *m, const char *key);
/* The value `name` names in the graph being imported: its own, or an
 * outer graph's, captured (a constant is copied, sharing its data); NULL
 * if no graph defines it. */
ir_value *fe_lookup(fe_ctx *c, const char *name);
/* Imports graph attribute gp of node np as a subgraph of c->g into *out,
 * its captures added to c->caps; false after reporting. */
bool fe_import_subgraph(fe_ctx *c, const Onnx__NodeProto *np,
			const Onnx__GraphProto *gp, ir_graph **out);
/* After every graph attribute of a node imported: each subgraph's
 * captured inputs in the order of caps (unused ones added). */
void fe_align_captures(fe_ctx *c, ir_attr *attrs, int nattrs,
		       const fe_caps *caps);
void fe_map_put(fe_ctx *c, fe_map *m, const char *key, void *val);
const char *fe_str(const char *s); /* NULL-safe: "" for NULL */
/* nn_error with the node's location, like nn_error_node, for a node that
 * has no ir_node yet. */
void fe_error_np(fe_ctx *c, const Onnx__NodeProto *np, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tensor.c */
/* Converts an ONNX elem_type into an ir_dtype; IR_UNDEF (after reporting
 * it, naming `what`) if nncc has no such type. */
ir_dtype fe_dtype(fe_ctx *c, int32_t elem_type, const char *what);
/* Decodes t (named `what` in messages, e.g. "initializer 'w'") into out,
 * its data allocated in g->weights. False after reporting an error. */
bool fe_tensor(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	       ir_tensor *out);
/* Decodes initializer t into a new graph constant named after it. */
ir_value *fe_initializer(fe_ctx *c, const Onnx__TensorProto *t);
/* Checks shape dims (a numel within IR_MAX_ELEMS, none negative), with
 * errors naming `what`. */
bool fe_check_dims(fe_ctx *c, const int64_t *dims, size_t n,
		   const char *what, ir_shape *out);

/* nodes.c */
/* Imports the graph's nodes in topological order; every node's inputs
 * must already be in c->values or be produced by another node. */
bool fe_import_nodes(fe_ctx *c, const Onnx__GraphProto *gp);

/* fold_data.c: NonZero and Unique, whose output shapes depend on data:
 * whether np's input is a constant (an initializer or a Constant node's
 * output), so that fe_fold_node, called in its turn instead of importing
 * it, evaluates it into constants named after its outputs. */
bool fe_folds_at_import(fe_ctx *c, const Onnx__GraphProto *gp,
			const Onnx__NodeProto *np);
bool fe_fold_node(fe_ctx *c, const Onnx__NodeProto *np);
/* einsum.c: imports an Einsum node (inputs in[0..nin-1] resolved) as
 * nodes of the existing IR; false after reporting. */
bool fe_import_einsum(fe_ctx *c, const Onnx__NodeProto *np, ir_value **in,
		      int nin);

/* convert.c */
/* Rewrites an old-opset form into the newest one: attributes that became
 * inputs are moved into *in (growing *nin) and marked consumed by a NULL
 * name; attributes may be added to *attrs. New arrays come from c->tmp. */
bool fe_convert_old_form(fe_ctx *c, const Onnx__NodeProto *np, ir_op op,
			 ir_attr **attrs, int *nattrs, ir_value ***in,
			 int *nin);

#endif
