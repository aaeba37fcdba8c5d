/* Private to frontend/export*.c: the ONNX writer's context and the
 * builders export_nodes.c (IR nodes to ONNX nodes, opsets) shares with
 * export.c (values, initializers, graph, file). */
#ifndef NNCC_EXPORT_H
#define NNCC_EXPORT_H

#include "fe_internal.h"

/* Oldest opset written: the importer's current forms of Clip, Slice, Pad,
 * Split, Squeeze, Unsqueeze and ReduceSum (inputs, not attributes) and
 * Softmax's one-axis meaning are opset 13's. */
#define EX_MIN_OPSET 13

typedef struct ptrvec {
	void **p;
	size_t n, cap;
} ptrvec;

/* The ONNX name of a value, and whether its initializer is written. */
typedef struct vname {
	const ir_value *v;
	const char *name;
	bool emitted;
} vname;

typedef struct ex_ctx {
	fe_ctx fc; /* only fc.tmp (the arena of everything) and fc.d */
	const ir_graph *g;
	int64_t opset;
	fe_map used; /* ONNX names taken */
	fe_map *names; /* the outermost graph's `used` (names are unique
			  model-wide); NULL: this graph's */
	vname *vn;   /* open addressing on the value pointer */
	size_t vcap;
	ptrvec nodes, inits, vinfo;
} ex_ctx;

/* export.c. Names are borrowed (arena or graph strings); everything
 * built lives in x->fc.tmp until the model is packed. */
void fe_ex_push(ex_ctx *x, ptrvec *v, void *p);
/* A fresh value name: base followed by suffix, made unique. */
const char *fe_ex_derived_name(ex_ctx *x, const char *base, const char *suffix);
Onnx__ValueInfoProto *fe_ex_value_info(ex_ctx *x, const char *name, ir_dtype t,
                                       const ir_shape *s);
/* The ONNX name of node input v ("" for NULL); writes a constant's
 * initializer on first use. NULL after reporting a constant without
 * data. */
const char *fe_ex_ref(ex_ctx *x, const ir_value *v);
const char *fe_ex_out_name(ex_ctx *x, const ir_value *v); /* "" for NULL */
/* A new initializer (data copied) named base + suffix; returns the name. */
const char *fe_ex_add_init(ex_ctx *x, const char *base, const char *suffix,
                           ir_dtype t, const ir_shape *s, const void *data);
/* Appends a node with room for nattr attributes; trailing omitted ("")
 * inputs and outputs are dropped. */
Onnx__NodeProto *fe_ex_add_node(ex_ctx *x, const char *op, const char *name,
                                int nin, const char **in, int nout,
                                const char **out, int nattr);
void fe_ex_attr_int(ex_ctx *x, Onnx__NodeProto *np, const char *name,
                    int64_t v);
void fe_ex_attr_float(ex_ctx *x, Onnx__NodeProto *np, const char *name,
                      double v);
void fe_ex_attr_ints(ex_ctx *x, Onnx__NodeProto *np, const char *name,
                     const int64_t *v, int n);
void fe_ex_copy_attr(ex_ctx *x, Onnx__NodeProto *np, const ir_attr *a);
/* Graph attribute a of node n as a GraphProto attribute of np: the
 * subgraph's captured inputs become n's trailing inputs' outer names;
 * false after an error. */
bool fe_ex_graph_attr(ex_ctx *x, Onnx__NodeProto *np, const ir_node *n,
		      const ir_attr *a);

/* export_nodes.c */
/* Writes IR node n as one or more ONNX nodes; false after an error. */
bool fe_ex_emit_node(ex_ctx *x, const ir_node *n);
/* The lowest opset that holds n's form. */
int64_t fe_ex_node_opset(const ir_node *n);

#endif
