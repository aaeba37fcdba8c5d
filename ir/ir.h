/* The nncc IR: SSA graphs over tensors, the op table, shape inference and
 * the reference interpreter. Every other layer builds on this header. */
#ifndef NNCC_IR_H
#define NNCC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ */
/* arena.c: memory. All compiler memory comes from arenas or nn_x*alloc,
 * which abort on out-of-memory (a bug class, not a user error). */

typedef struct nn_arena nn_arena;

nn_arena *nn_arena_new(void);
void nn_arena_free(nn_arena *a);
/* Zeroed, 64-byte aligned; freed with the arena. */
void *nn_alloc(nn_arena *a, size_t size);
/* nn_alloc of n * size with an overflow check (overflow is a bug). */
void *nn_alloc_array(nn_arena *a, size_t n, size_t size);
char *nn_strdup(nn_arena *a, const char *s);
void *nn_xmalloc(size_t size);
void *nn_xcalloc(size_t n, size_t size);
void *nn_xrealloc(void *p, size_t size);
char *nn_xstrdup(const char *s);

/* ------------------------------------------------------------------ */
/* diag.c: diagnostics. User errors go to an nn_diag; broken invariants
 * abort through NN_ASSERT. Messages read like a compiler's:
 *   nncc: error: model.onnx: node 'conv1' (Conv): kernel rank 3 != 2
 *   m.nnir:3:7: error: unknown op 'Foo'
 */

typedef struct nn_diag {
	const char *tool; /* "nncc", "nncc-opt", ...; borrowed */
	const char *file; /* the model or IR file being read; borrowed */
	int nerrors;
	FILE *out;        /* stderr unless a test redirects it */
} nn_diag;

struct ir_node;

void nn_diag_init(nn_diag *d, const char *tool, const char *file);
/* "TOOL: error: FILE: MSG" */
void nn_error(nn_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "TOOL: error: MSG": a problem that is not in FILE (a bad option, a file
 * that cannot be written, which the message names). */
void nn_error_tool(nn_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "TOOL: error: FILE: node 'NAME' (OP): MSG"; the node name is omitted
 * when the node has none, and then its output value names it. */
void nn_error_node(nn_diag *d, const struct ir_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "FILE:LINE:COL: error: MSG" (text IR locations). */
void nn_error_at(nn_diag *d, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "TOOL: warning: FILE: MSG" and "TOOL: note: MSG". */
void nn_warn(nn_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nn_note(nn_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nn_verror(nn_diag *d, const char *fmt, va_list ap);

/* progress.c: progress of the long stages on stderr. want: 1 on
 * (--progress), 0 off, -1 only when stderr is a terminal. A terminal
 * gets one line rewritten in place, anything else plain lines; the
 * diagnostics above clear a rewritten line before they print. */
void nn_progress_init(const char *tool, int want);
bool nn_progress_on(void);
/* "TOOL: STAGE: message" (printf format, no newline). */
void nn_progress(const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* nn_progress for the steps of a stage (nodes, batches, epochs):
 * skipped within a quarter second of the last line. */
void nn_progress_detail(const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Ends a rewritten line (before other output, and at exit). */
void nn_progress_clear(void);

_Noreturn void nn_assert_fail(const char *file, int line, const char *expr);
#define NN_ASSERT(e) ((e) ? (void)0 : nn_assert_fail(__FILE__, __LINE__, #e))
#define nn_unreachable() nn_assert_fail(__FILE__, __LINE__, "unreachable")

/* ------------------------------------------------------------------ */
/* file.c: every file a tool writes or reads. An output "-" is stdout; a
 * regular file or a new path is written through a temporary in the same
 * folder (mode 0666 & ~umask), renamed into place on success and removed
 * on failure; a symlink is followed (its final target is written, the
 * link stays); a device, FIFO or socket is written in place; a directory
 * is an error. Errors name the file: "TOOL: error: PATH: REASON". */

typedef struct nn_outfile {
	FILE *f;
	const char *path; /* as given; borrowed */
	char *target;     /* path with its symlinks followed */
	char *tmp;        /* the temporary renamed onto target, or NULL */
} nn_outfile;

/* The stream to write to, or NULL with an error on d. Every successful
 * open is paired with nn_out_close. */
FILE *nn_out_open(nn_outfile *o, const char *path, nn_diag *d);
/* Flushes and closes; with ok, a write, flush or close error is reported
 * and the output is put in place; without it (or on such an error) the
 * temporary is removed. Returns whether the output is complete. */
bool nn_out_close(nn_outfile *o, bool ok, nn_diag *d);
/* nn_out_open, one write of len bytes of buf (borrowed), nn_out_close. */
bool nn_out_write_file(const char *path, const void *buf, size_t len,
		       nn_diag *d);
/* Removes an output written earlier when a later one failed: only a
 * regular file at path itself (never stdout, a link or a device). */
void nn_out_remove(const char *path);
/* Opens a regular file (or a symlink to one) for reading ("rb"); a FIFO,
 * device or directory is refused without blocking. NULL with *why set to
 * the reason (static, or strerror's), which the caller reports in its own
 * words. */
FILE *nn_in_open(const char *path, const char **why);
/* The whole of such a file, NUL-terminated: malloc'd, *len bytes before
 * the NUL; NULL with *why. */
char *nn_in_read(const char *path, size_t *len, const char **why);

/* ------------------------------------------------------------------ */
/* types.c: element types (numbered as ONNX's TensorProto.DataType) and
 * shapes. f16 and bf16 are stored as their uint16_t bit patterns. */

typedef enum ir_dtype {
	IR_UNDEF = 0,
	IR_F32 = 1,
	IR_U8 = 2,
	IR_I8 = 3,
	IR_U16 = 4,
	IR_I16 = 5,
	IR_I32 = 6,
	IR_I64 = 7,
	IR_STRING = 8, /* never in the IR: the importer rejects it */
	IR_BOOL = 9,   /* one byte, 0 or 1 */
	IR_F16 = 10,
	IR_F64 = 11,
	IR_U32 = 12,
	IR_U64 = 13,
	IR_BF16 = 16,
	IR_NDTYPE
} ir_dtype;

#define IR_MAX_RANK 8
/* Refuse tensors larger than this many elements or bytes: a guard against
 * absurd dimensions in hostile models (and size_t overflow). */
#define IR_MAX_ELEMS ((int64_t)1 << 40)
/* Most centroids a shared-weight codebook may have (codes are bytes). */
#define IR_MAX_CODES 256

typedef struct ir_shape {
	int rank;
	int64_t dim[IR_MAX_RANK]; /* -1: unknown (never after import) */
} ir_shape;

size_t ir_dtype_size(ir_dtype t);      /* 0 for IR_UNDEF/IR_STRING */
/* Bits of a codebook index: ceil(log2 ncodes), at least 1. */
int ir_code_bits(int ncodes);
const char *ir_dtype_name(ir_dtype t); /* "f32", "i64", "bool", ... */
ir_dtype ir_dtype_parse(const char *s, size_t len); /* IR_UNDEF if bad */
bool ir_dtype_is_float(ir_dtype t);    /* f16, bf16, f32, f64 */
bool ir_dtype_is_int(ir_dtype t);      /* signed or unsigned, not bool */
/* u8..u64 and bool: integers compared, extended and divided unsigned. */
bool ir_dtype_is_unsigned(ir_dtype t);
/* Element count; -1 if a dim is unknown or the count exceeds IR_MAX_ELEMS. */
int64_t ir_shape_numel(const ir_shape *s);
bool ir_shape_eq(const ir_shape *a, const ir_shape *b);
/* Writes "[1,3,224,224]" into buf (at most size bytes). */
void ir_shape_str(const ir_shape *s, char *buf, size_t size);
/* numpy broadcasting of a and b into out; false if incompatible. */
bool ir_shape_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out);
float ir_f16_to_f32(uint16_t h);
uint16_t ir_f32_to_f16(float f);
float ir_bf16_to_f32(uint16_t h);
uint16_t ir_f32_to_bf16(float f);
/* Element i of data (of type t) as a double, and the reverse (with C
 * conversion semantics: truncation toward zero for integers). */
double ir_load_f64(const void *data, ir_dtype t, int64_t i);
void ir_store_f64(void *data, ir_dtype t, int64_t i, double v);
int64_t ir_load_i64(const void *data, ir_dtype t, int64_t i);

/* ------------------------------------------------------------------ */
/* The op table (ops.def) and the kinds that give ops their behaviour. */

typedef enum ir_op {
#define OP(id, name, min_in, max_in, min_out, max_out, kind, flags, w, \
	   opset) OP_##id,
#include "ops.def"
#undef OP
	IR_NOPS
} ir_op;

typedef enum ir_kind {
	IR_KIND_UNARY,     /* elementwise one-input math, incl. Clip */
	IR_KIND_BINARY,    /* numpy-broadcast two-input math, incl. PRelu */
	IR_KIND_CONV,      /* Conv, ConvTranspose */
	IR_KIND_GEMM,      /* Gemm, MatMul */
	IR_KIND_POOL,      /* MaxPool, AveragePool, Global*Pool */
	IR_KIND_NORM,      /* BatchNormalization, LayerNormalization,
			      InstanceNormalization, LRN,
			      MeanVarianceNormalization */
	IR_KIND_SOFTMAX,   /* Softmax, LogSoftmax */
	IR_KIND_REDUCE,    /* ReduceMean/Sum/Max, ArgMax */
	IR_KIND_RESHAPE,   /* data-preserving views: Reshape, Flatten, Squeeze,
			      Unsqueeze, Identity, Dropout */
	IR_KIND_TRANSPOSE,
	IR_KIND_CONCAT,
	IR_KIND_SPLIT,
	IR_KIND_SLICE,
	IR_KIND_GATHER,
	IR_KIND_PAD,
	IR_KIND_SHAPE,     /* Shape */
	IR_KIND_CONSTANT,  /* Constant, ConstantOfShape */
	IR_KIND_CAST,
	IR_KIND_RESIZE,
	IR_KIND_FUSED,    /* nncc.FusedConv, nncc.FusedGemm (op_fused.c) */
	IR_KIND_NARY,     /* broadcast compare/logic/Mod/Min/Max/Sum/Mean/
			     Where/Not (op_nary.c) */
	IR_KIND_EXPAND,   /* Expand, Tile, Depth/SpaceToDepth, Range */
	IR_KIND_SCATTER,  /* ScatterND, ScatterElements, GatherElements,
			     GatherND (op_scatter.c) */
	IR_KIND_RNN,      /* LSTM, GRU, RNN (op_rnn.c) */
	IR_KIND_SIGNAL,   /* windows, MelWeightMatrix, DFT, STFT
			     (op_signal.c) */
	IR_KIND_LOSS,     /* NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
			     (op_loss.c) */
	IR_KIND_INDEX,    /* CumSum, OneHot, TopK, ReverseSequence, Compress,
			     MaxUnpool (op_index.c) */
	IR_KIND_LINALG,   /* Det (op_linalg.c) */
	IR_KIND_SAMPLE,   /* GridSample, RoiAlign (op_sample.c) */
	IR_KIND_CONTROL,  /* If, Loop, Scan (op_control.c) */
	IR_NKINDS
} ir_kind;

/* The FLAGS column of ops.def (the comment there says what each means). */
enum {
	IR_OPF_INT = 1 << 0,
	IR_OPF_ACT = 1 << 1,
	IR_OPF_VACT = 1 << 2,
	IR_OPF_NOOP = 1 << 3,
	IR_OPF_CHECKS = 1 << 4,
};

/* The WEIGHT column: a weight layer's weight layout, which also says
 * which inputs are its weights (ir_weight_inputs). */
typedef enum ir_weight_form {
	IR_W_NONE, /* not a weight layer */
	IR_W_OIHW, /* [out, in/group, k...]: Conv */
	IR_W_IOHW, /* [in, out/group, k...]: ConvTranspose */
	IR_W_KN,   /* [..., in, out] ([out, in] with transB): Gemm, MatMul */
	IR_W_GATES, /* [dirs, gates*hidden, in]: W (input 1) and R (input 2)
		     * of LSTM, GRU, RNN */
} ir_weight_form;

typedef struct ir_op_info {
	const char *name; /* ONNX spelling */
	int min_in, max_in;   /* max -1: variadic */
	int min_out, max_out;
	ir_kind kind;
	unsigned flags;       /* IR_OPF_* */
	ir_weight_form weight;
	int opset;            /* oldest opset of the current form, or 0 */
} ir_op_info;

extern const ir_op_info ir_ops[IR_NOPS];
/* IR_NOPS if name is not an op nncc knows. */
ir_op ir_op_lookup(const char *name);
/* The name of one IR_OPF_* flag (--list-ops), NULL for another value. */
const char *ir_opf_name(unsigned f);
/* Whether op's row has all of the IR_OPF_* flags f. */
bool ir_op_has(ir_op op, unsigned f);
/* The base op a fused op runs (OP_FusedConv: OP_Conv, OP_FusedGemm:
 * OP_Gemm), IR_NOPS for an op that is not fused; ir_fused_of is the
 * inverse (IR_NOPS for an op no fused op has as its base). */
ir_op ir_fused_base(ir_op op);
ir_op ir_fused_of(ir_op base);

/* ------------------------------------------------------------------ */
/* Attributes. ONNX attributes are kept by name, sorted by name, and
 * checked at import against attrs.def (name and kind per op). The hooks
 * read them through ir_attr_* with the ONNX default. */

typedef enum ir_attr_kind {
	IR_ATTR_INT,
	IR_ATTR_FLOAT,
	IR_ATTR_STRING,
	IR_ATTR_INTS,
	IR_ATTR_FLOATS,
	IR_ATTR_STRINGS,
	IR_ATTR_TENSOR,
	IR_ATTR_GRAPH, /* a subgraph: If's branches, Loop's and Scan's body */
	IR_NATTR_KINDS
} ir_attr_kind;

typedef struct ir_tensor {
	ir_dtype dtype;
	ir_shape shape;
	void *data; /* numel * dtype size bytes */
} ir_tensor;

typedef struct ir_attr {
	const char *name;
	ir_attr_kind kind;
	int64_t i;
	double f;
	const char *s;
	int n; /* element count of the list kinds */
	int64_t *ints;
	double *floats;
	const char **strings;
	ir_tensor *t;
	struct ir_graph *g; /* IR_ATTR_GRAPH (see ir_subgraph_new) */
} ir_attr;

/* attrs.c: the schema of attrs.def. */
/* The expected kind of attribute `name` of op, or IR_NATTR_KINDS if the op
 * has no such attribute. */
ir_attr_kind ir_attr_schema(ir_op op, const char *name);
/* The opset that added op's attribute `name` (SINCE in attrs.def), or 0. */
int ir_attr_since(ir_op op, const char *name);
const char *ir_attr_kind_name(ir_attr_kind k); /* "int", "ints", ... */

/* ------------------------------------------------------------------ */
/* graph.c: values, nodes, graphs. A graph owns two arenas: `arena` for
 * structure (nodes, values, attributes, strings) and `weights` for tensor
 * data, which is immutable once a value holds it. */

typedef struct ir_value ir_value;
typedef struct ir_node ir_node;

typedef struct ir_use {
	ir_node *node;
	int index; /* operand index in node->in */
} ir_use;

struct ir_value {
	int id;           /* printer numbering; set by ir_number_values */
	const char *name; /* ONNX name (interned), or NULL */
	ir_dtype dtype;
	ir_shape shape;
	ir_node *def;     /* producing node; NULL for inputs and constants */
	/* Tensor data: for a constant (def == NULL and not a graph input),
	 * its value; for a node output, the value shape inference could
	 * compute from constants (NULL when unknown). Lives in g->weights. */
	void *data;
	bool is_input;
	bool elided;      /* constant parsed from an elided summary: no data */
	int64_t nnz;      /* constants: non-zero count (ir_const_facts) */
	uint64_t hash;    /* constants: FNV-1a of the bytes (ir_const_facts) */
	/* Shared weights (passes/share.c, docs/compression.md): an f32
	 * constant whose every element is codebook[codes[i]]; data still
	 * holds those dequantized floats so nothing else needs to know.
	 * ncodes 0: no codebook. An elided constant may have ncodes > 0 with
	 * codebook == codes == NULL. Both arrays live in g->weights. */
	int ncodes;       /* 1..IR_MAX_CODES */
	float *codebook;  /* [ncodes]; codebook[0] == 0 if the data has zeros */
	uint8_t *codes;   /* [numel] */
	ir_use *uses;     /* ir_compute_uses; g->arena */
	int nuses;
};

struct ir_node {
	ir_op op;
	const char *name; /* ONNX node name, or NULL */
	int nin, nout;
	ir_value **in;    /* in[i] NULL: optional input omitted */
	ir_value **out;   /* out[i] NULL: optional output not produced */
	int nattrs;
	ir_attr *attrs;   /* sorted by name */
	ir_node *prev, *next;
	int id;
};

typedef struct ir_graph {
	nn_arena *arena;
	nn_arena *weights;
	const char *name;
	int64_t opset;         /* default-domain opset the model was imported at */
	int ninputs, noutputs, nconsts;
	ir_value **inputs;     /* graph order */
	ir_value **outputs;    /* graph order */
	ir_value **consts;
	ir_node *first, *last; /* nodes in topological order */
	int nnodes;
	/* Set by ir_number_values: the values printed as %N have ids below
	 * nnumbered; inputs, constants and graph outputs printed by their
	 * name have ids from nnumbered up. */
	int nnumbered;
	/* A subgraph (an IR_ATTR_GRAPH attribute of a node of `parent`)
	 * shares its parent's arenas and sees nothing outside itself: the
	 * outer values it reads are its last `ncaptured` inputs, bound to
	 * the node's last ncaptured inputs in the same order (every graph
	 * attribute of one node has the same captures). */
	struct ir_graph *parent;
	int ncaptured;
} ir_graph;

ir_graph *ir_graph_new(const char *name);
void ir_graph_free(ir_graph *g); /* nothing for a subgraph */
/* An empty subgraph in parent's arenas (freed with the outermost graph). */
ir_graph *ir_subgraph_new(ir_graph *parent, const char *name);
/* The captured outer values at the end of n's inputs: the ncaptured of
 * its graph attributes, 0 for a node without any. */
int ir_node_ncaptured(const ir_node *n);
/* A deep copy of g (structure, attributes, data, codebooks) in arenas
 * of its own; the caller frees it with ir_graph_free. */
ir_graph *ir_graph_clone(ir_graph *g);
const char *ir_intern(ir_graph *g, const char *s); /* copy into g->arena */
ir_value *ir_add_input(ir_graph *g, const char *name, ir_dtype t,
		       const ir_shape *s);
/* A constant; data (borrowed) is copied into g->weights unless NULL, in
 * which case zeroed storage is allocated for the caller to fill. */
ir_value *ir_add_const(ir_graph *g, const char *name, ir_dtype t,
		       const ir_shape *s, const void *data);
void ir_add_output(ir_graph *g, ir_value *v);
/* A constant of g with the type, data and codebook of v, a constant of a
 * graph sharing g's arenas (an outer graph of subgraph g): the data is
 * shared, as it is immutable. */
ir_value *ir_add_const_shared(ir_graph *g, const ir_value *v);
/* g's inputs become in[0..n-1] (copied; values already of g). */
void ir_set_inputs(ir_graph *g, ir_value *const *in, int n);
/* Turns graph input v into a constant holding data (borrowed, copied;
 * numel * dtype size bytes of v's type): it leaves g->inputs, keeping
 * the others' order, and joins g->consts (--input-value). */
void ir_freeze_input(ir_graph *g, ir_value *v, const void *data);
/* A node appended at the end with nout fresh output values (untyped until
 * shape inference). in is copied. */
ir_node *ir_add_node(ir_graph *g, ir_op op, const char *name, int nin,
		     ir_value *const *in, int nout);
/* Like ir_add_node, inserted before `before`. */
ir_node *ir_insert_node(ir_graph *g, ir_node *before, ir_op op,
			const char *name, int nin, ir_value *const *in,
			int nout);
void ir_remove_node(ir_graph *g, ir_node *n); /* unlinks; arena keeps it */
/* Links node n, unlinked and in g's arenas (a subgraph's, ir_inline_if),
 * into g before `before`; ir_adopt_const likewise adds constant v. */
/* Copies the nodes of subgraph sub (of a node of g) into g before
 * `before`, sub's inputs bound to args[0..ninputs-1]; returns what sub's
 * outputs became (malloc'd). Nodes are typed as in sub; infer again. */
ir_value **ir_inline_graph(ir_graph *g, ir_node *before, ir_graph *sub,
			   ir_value *const *args);
/* Replace every use of `from` (node inputs and graph outputs) by `to`. */
void ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to);
ir_attr *ir_set_attr(ir_graph *g, ir_node *n, const char *name,
		     ir_attr_kind k); /* added or reset; kept sorted */
const ir_attr *ir_get_attr(const ir_node *n, const char *name);
/* dflt is what an absent attribute means at the call site: never an ONNX
 * default (those are read through ir_attr_i/f/s below), but nncc's own
 * "absent" for a row that says NONE (NULL, "", a value computed from the
 * node, a sentinel the hook refuses). */
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
double ir_attr_float(const ir_node *n, const char *name, double dflt);
const char *ir_attr_str(const ir_node *n, const char *name,
			const char *dflt);
/* attrs.c: the same with the default of n's op in attrs.def (which must
 * give one:
 * it is a bug to ask for a default the table does not have). */
int64_t ir_attr_i(const ir_node *n, const char *name);
double ir_attr_f(const ir_node *n, const char *name);
const char *ir_attr_s(const ir_node *n, const char *name);
/* A required attribute (attrs.def: NONE) the shape hook has refused to
 * go without: there is no default to state. */
int64_t ir_attr_req_i(const ir_node *n, const char *name);
const char *ir_attr_req_s(const ir_node *n, const char *name);
/* For a site several ops share: ir_attr_i/f/s when n's op has the row
 * (with its default), else `none`, the value that stands for an op
 * without the attribute (MatMul read as a Gemm: transB 0). */
int64_t ir_attr_i_or(const ir_node *n, const char *name, int64_t none);
double ir_attr_f_or(const ir_node *n, const char *name, double none);
const char *ir_attr_s_or(const ir_node *n, const char *name,
			 const char *none);
/* The ints list, or NULL (and *count 0) if absent. */
const int64_t *ir_attr_ints(const ir_node *n, const char *name, int *count);
/* The axes of weight layer n's weight (input 1, from its WEIGHT column):
 * *oax holds the outputs, *iax the inputs (Gemm's transB swaps them);
 * false if n is not a weight layer or its weight has too few axes. */
bool ir_weight_axes(const ir_node *n, int *oax, int *iax);
/* The weight inputs of op's WEIGHT form as a bit set (bit k: input k):
 * input 1, or W and R (inputs 1 and 2) for GATES; 0 without one. */
unsigned ir_weight_inputs(ir_op op);
/* The ONNX name of weight input k of op when it has several ("W", "R"),
 * else NULL (the node's name names its one weight). */
const char *ir_weight_input_name(ir_op op, int k);
void ir_compute_uses(ir_graph *g);
void ir_number_values(ir_graph *g);
void ir_const_facts(ir_value *v); /* nnz and hash of a constant */
bool ir_is_const(const ir_value *v); /* def == NULL && !is_input */
/* A readable name for messages: the ONNX name, or "%id". */
const char *ir_value_label(const ir_value *v);
const char *ir_node_label(const ir_node *n); /* node name, or "" */
/* True if n's input i is a float tensor, else an error naming it. */
bool ir_check_float_input(const ir_node *n, int i, nn_diag *d);
/* *axis in [-rank, rank) made non-negative, else an error naming n. */
bool ir_norm_axis(const ir_node *n, int64_t *axis, int rank, nn_diag *d);

/* ------------------------------------------------------------------ */
/* ops.c: per-kind hooks, indexed by ir_kind (designated initializers).
 *
 * shape: sets dtype and shape of every non-NULL n->out[i] from the inputs'
 *   types, attributes and, where the op needs them, the data of inputs
 *   (n->in[i]->data; if NULL where it is required, report an error saying
 *   which input must be constant). Reports every user error through
 *   nn_error_node and returns false. A Shape node may also fill its output
 *   data here (allocated from g->weights), since it never depends on data.
 * eval: computes outputs into preallocated buffers of the shapes shape
 *   inference gave; in[i] is NULL for an omitted optional input. Errors
 *   that depend on data (a Gather index out of range) go to d. */

typedef bool (*ir_shape_fn)(ir_graph *g, ir_node *n, nn_diag *d);
typedef bool (*ir_eval_fn)(const ir_node *n, const void *const *in,
			   void *const *out, nn_diag *d);

typedef struct ir_kind_hooks {
	ir_shape_fn shape;
	ir_eval_fn eval;
	const char *name; /* for nncc-opt --list-ops */
} ir_kind_hooks;

extern const ir_kind_hooks ir_kinds[IR_NKINDS];

/* op_unary.c */
bool ir_shape_unary(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_unary(const ir_node *n, const void *const *in, void *const *out,
		   nn_diag *d);
/* op_binary.c */
bool ir_shape_binary(ir_graph *g, ir_node *n, nn_diag *d);
/* Integer Div and Mod: a divisor (input 1) known at compile time with a
 * zero element is an error (what: "division" or "modulo"), as it is when
 * the interpreter meets one; generated code reports it at run time. */
bool ir_check_divisor(const ir_node *n, const char *what, nn_diag *d);
bool ir_eval_binary(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
/* op_conv.c */
/* Sliding-window geometry of Conv and the pools (per spatial dim). */
typedef struct ir_window {
	int nd;
	int64_t in[IR_MAX_RANK], out[IR_MAX_RANK], k[IR_MAX_RANK];
	int64_t s[IR_MAX_RANK], dil[IR_MAX_RANK];
	int64_t pb[IR_MAX_RANK], pe[IR_MAX_RANK]; /* pads begin, end */
} ir_window;
/* Reads strides, dilations, pads and auto_pad of n for input x (N, C,
 * spatial...) and kernel k (nd values), and computes the output size;
 * ceil_mode as in the pools. Reports bad attributes and empty outputs. */
bool ir_window_init(const ir_node *n, const ir_shape *x, const int64_t *k,
		    bool ceil_mode, ir_window *w, nn_diag *d);
/* For every kernel offset kk and output position p (row-major), the
 * row-major input position read, -1 inside the padding, -2 beyond it
 * (ceil_mode windows). malloc'd [prod(k) * prod(out)]; caller frees. */
int64_t *ir_window_map(const ir_window *w);
bool ir_shape_conv(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_conv(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_gemm.c */
bool ir_shape_gemm(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_gemm(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_pool.c */
bool ir_shape_pool(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_pool(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_norm.c */
bool ir_shape_norm(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_norm(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* InstanceNormalization and MeanVarianceNormalization: mask[k] says
 * whether axis k of the input is normalized over (the others pick the
 * group); false after reporting bad axes. */
bool ir_norm_axes(const ir_node *n, bool *mask, nn_diag *d);
/* op_sample.c */
bool ir_shape_sample(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_sample(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
/* GridSample's mode and padding_mode (IR_GRID_*); false after reporting
 * one it does not know. */
enum { IR_GRID_BILINEAR, IR_GRID_NEAREST, IR_GRID_BICUBIC };
enum { IR_GRID_ZEROS, IR_GRID_BORDER, IR_GRID_REFLECTION };
bool ir_grid_modes(const ir_node *n, int *mode, int *pad, nn_diag *d);
/* RoiAlign's mode (max, else avg) and coordinate_transformation_mode
 * (half_pixel, else output_half_pixel), the sizes checked; false after
 * reporting. */
bool ir_roi_modes(const ir_node *n, bool *max, bool *half, nn_diag *d);
/* RoiAlign's samples per bin along an axis when sampling_ratio is 0:
 * ceil(v), 0 for v <= 0 or NaN, at most IR_ROI_MAX_GRID (so that a huge
 * roi cannot overflow the count; its points outside the input add 0). */
enum { IR_ROI_MAX_GRID = 1 << 16 };
int64_t ir_roi_grid(double v);
/* op_control.c: If, Loop and Scan run their graph attributes with the
 * interpreter; the facts below are shared with codegen. */
bool ir_shape_control(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_control(const ir_node *n, const void *const *in,
		     void *const *out, nn_diag *d);
/* The graph attribute `name` of n, or NULL. */
ir_graph *ir_attr_graph(const ir_node *n, const char *name);
/* Loop n's iteration count when it is known at compile time (M constant
 * and the loop unable to stop early), else -1. */
int64_t ir_loop_trips(const ir_node *n);
/* Scan n's layout: N states, K scan inputs, the trip count, and per scan
 * input / output its axis and whether it runs backwards. */
enum { IR_SCAN_MAX = 64 }; /* scan inputs, and scan outputs */
typedef struct ir_scan {
	int nstate, nscan_in, nscan_out;
	int64_t trips;
	int in_axis[IR_SCAN_MAX], out_axis[IR_SCAN_MAX];
	bool in_rev[IR_SCAN_MAX], out_rev[IR_SCAN_MAX];
} ir_scan;
/* False after reporting bad attributes (into d when not NULL). */
bool ir_scan_get(const ir_node *n, ir_scan *s, nn_diag *d);
/* Replaces If n, whose condition is known, by the nodes of the branch
 * it takes (ir_infer_shapes has typed it). */
void ir_inline_if(ir_graph *g, ir_node *n);
/* Whether Loop n (inputs inferred) is unrolled: its trip count known and
 * small; ir_unroll_loop then replaces it by copies of its body, returning
 * the first node inserted (the node after n when there is none). Shape
 * inference does this, as iteration-dependent slices of a body (Slice at
 * the iteration number) only have static shapes once unrolled. */
bool ir_loop_unrolls(const ir_node *n);
ir_node *ir_unroll_loop(ir_graph *g, ir_node *n);
/* Inlines every If of g whose condition inference knows, inferring again
 * until none is left; false after reporting an inference error. */
bool ir_fold_ifs(ir_graph *g, nn_diag *d);
/* op_softmax.c. Whether n (Softmax, LogSoftmax, Hardmax) has the
 * pre-13 semantics (marked nncc.legacy by the shape hook), and its axis
 * as given or the default of its opset. */
bool ir_softmax_legacy(const ir_node *n);
int64_t ir_softmax_axis(const ir_node *n);
bool ir_shape_softmax(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_softmax(const ir_node *n, const void *const *in,
		     void *const *out, nn_diag *d);
/* op_reduce.c */
bool ir_shape_reduce(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_reduce(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
/* op_reshape.c */
bool ir_shape_reshape(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_reshape(const ir_node *n, const void *const *in,
		     void *const *out, nn_diag *d);
/* op_transpose.c */
bool ir_shape_transpose(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_transpose(const ir_node *n, const void *const *in,
		       void *const *out, nn_diag *d);
/* op_concat.c: Concat and Split */
bool ir_shape_concat(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_concat(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
bool ir_shape_split(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_split(const ir_node *n, const void *const *in,
		   void *const *out, nn_diag *d);
/* op_slice.c: Slice, Gather, Pad */
bool ir_shape_slice(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_slice(const ir_node *n, const void *const *in,
		   void *const *out, nn_diag *d);
bool ir_shape_gather(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_gather(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
bool ir_shape_pad(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_pad(const ir_node *n, const void *const *in, void *const *out,
		 nn_diag *d);
/* op_misc.c: Shape, Constant, ConstantOfShape, Cast */
bool ir_shape_shape(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_shape(const ir_node *n, const void *const *in,
		   void *const *out, nn_diag *d);
bool ir_shape_constant(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_constant(const ir_node *n, const void *const *in,
		      void *const *out, nn_diag *d);
bool ir_shape_cast(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_cast(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_resize.c */
bool ir_shape_resize(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_resize(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
/* op_fused.c: nncc.FusedConv / nncc.FusedGemm (X, W, B|none, R|none):
 * the Conv/Gemm, plus the residual R (same shape as the output), then
 * the `activation` (an ONNX unary op name) with activation_alpha/beta. */
bool ir_shape_fused(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_fused(const ir_node *n, const void *const *in, void *const *out,
		   nn_diag *d);
/* op_nary.c */
bool ir_shape_nary(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_nary(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_expand.c. ir_expand_map: for every output element (row-major) of an
 * Expand/Tile/DepthToSpace/SpaceToDepth node, the input element it copies
 * (map has numel(out) entries). */
bool ir_shape_expand(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_expand(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
void ir_expand_map(const ir_node *n, int64_t *map);
int64_t ir_trilu_k(const ir_node *n); /* Trilu's constant k, 0 if none */
/* op_index.c. The constant parameters the lowering reads too: CumSum's
 * axis and OneHot's (normalized), OneHot's depth, TopK's K; Compress's
 * source offset of every output element (row-major); MaxUnpool's inferred
 * output shape, which its indices address. */
bool ir_shape_index(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_index(const ir_node *n, const void *const *in,
		   void *const *out, nn_diag *d);
int ir_cumsum_axis(const ir_node *n);
int ir_onehot_axis(const ir_node *n);
int64_t ir_onehot_depth(const ir_node *n);
int64_t ir_topk_k(const ir_node *n);
void ir_compress_map(const ir_node *n, int64_t *map);
void ir_maxunpool_inferred(const ir_node *n, ir_shape *s);
/* op_scatter.c */
bool ir_shape_scatter(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_scatter(const ir_node *n, const void *const *in,
		     void *const *out, nn_diag *d);
/* op_rnn.c: LSTM, GRU and RNN in their opset-14 form. Inputs by index:
 * X, W, R, B, sequence_lens, initial_h, initial_c, P (IR_RNN_IN_*);
 * outputs Y, Y_h, Y_c, each optional. Gates in ONNX order (LSTM i, o, f,
 * c; GRU z, r, h), direction 1 of a bidirectional layer runs in reverse.
 * ir_rnn_get reads the layer's facts once for the interpreter, codegen
 * and the passes. */
enum {
	IR_RNN_IN_X, IR_RNN_IN_W, IR_RNN_IN_R, IR_RNN_IN_B, IR_RNN_IN_LENS,
	IR_RNN_IN_H0, IR_RNN_IN_C0, IR_RNN_IN_P
};

typedef enum ir_rnn_fn {
	IR_RNN_RELU, IR_RNN_TANH, IR_RNN_SIGMOID, IR_RNN_AFFINE,
	IR_RNN_LEAKYRELU, IR_RNN_THRESHOLDEDRELU, IR_RNN_SCALEDTANH,
	IR_RNN_HARDSIGMOID, IR_RNN_ELU, IR_RNN_SOFTSIGN, IR_RNN_SOFTPLUS
} ir_rnn_fn;

typedef struct ir_rnn_act {
	ir_rnn_fn fn;
	double alpha, beta; /* the function's parameters (defaults filled) */
} ir_rnn_act;

typedef struct ir_rnn {
	int64_t t, b, i, h; /* sequence length, batch, input and hidden size */
	int dirs;           /* 1, or 2 when bidirectional */
	bool reverse;       /* direction "reverse" (dirs 1) */
	int gates;          /* 4 (LSTM), 3 (GRU), 1 (RNN) */
	int nacts;          /* activations per direction: 3, 2, 1 */
	ir_rnn_act act[2][3]; /* [direction][f, g, h] */
	bool batch_first;   /* layout 1: X [B,T,I], Y [B,T,D,H], Y_h [B,D,H] */
	bool has_clip;
	double clip;        /* pre-activations clamped to [-clip, clip] */
	bool lbr;           /* GRU linear_before_reset */
	bool input_forget;  /* LSTM: f = 1 - i */
} ir_rnn;

/* The facts of a typed RNN-kind node; false with an error on d (d may
 * be NULL for a node that shape inference accepted). */
bool ir_rnn_get(const ir_node *n, ir_rnn *r, nn_diag *d);
/* Whether direction dir runs from the last time step to the first. */
bool ir_rnn_backward(const ir_rnn *r, int dir);
double ir_rnn_apply(const ir_rnn_act *a, double x);
bool ir_shape_rnn(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_rnn(const ir_node *n, const void *const *in, void *const *out,
		 nn_diag *d);

/* op_signal.c: the window functions and MelWeightMatrix (every input
 * constant), DFT and STFT. ir_dft_get gives a DFT or STFT node's
 * geometry once, for the interpreter and codegen: output element
 * (o1, o2, k, i, re/im) at (((o1 * n2 + o2) * bins + k) * inner + i) * 2
 * is sum over s < nread of x[o1 * is1 + o2 * is2 + s * iss + i * isi]
 * (comp 2: re, im; comp 1: real) times window[s] (STFT with one) times
 * exp(-+2 pi i k s / len) (+ and scaled by 1/len when inverse). */
typedef struct ir_dft {
	int64_t n1, n2, is1, is2; /* outer loops and their input strides */
	int64_t nread, iss;       /* samples read and their stride */
	int64_t inner, isi;       /* inner loop and its input stride */
	int64_t comp;             /* 1: real input, 2: complex */
	int64_t len, bins;        /* DFT length, output bins */
	bool inverse;
	int window;               /* input index of the window, or -1 */
} ir_dft;
bool ir_dft_get(const ir_node *n, ir_dft *g);
bool ir_shape_signal(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_signal(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);
/* op_loss.c: a loss's ignore_index (*has false when absent) and
 * reduction ('n'one, 's'um, 'm'ean); C classes on axis 1, D the product
 * of the dims after it. */
typedef struct ir_loss {
	int64_t n, c, d;
	bool has_ii;
	int64_t ii;
	char reduction;
} ir_loss;
void ir_loss_get(const ir_node *n, ir_loss *l);
bool ir_shape_loss(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_loss(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);
/* op_linalg.c: Det of [..., M, M] (float), one value per matrix. */
bool ir_shape_linalg(ir_graph *g, ir_node *n, nn_diag *d);
bool ir_eval_linalg(const ir_node *n, const void *const *in,
		    void *const *out, nn_diag *d);

/* ------------------------------------------------------------------ */
/* infer.c: shape inference over the whole graph, in order. Sets every
 * node output's dtype and shape through the shape hooks, and, where all
 * inputs of a node have data (constants or computed ones) or the node is a
 * Shape, evaluates it so that data-dependent shapes downstream (Reshape
 * targets built by Shape/Gather/Concat chains) resolve. */
bool ir_infer_shapes(ir_graph *g, nn_diag *d);
/* The same from node `from` on (NULL: none), the nodes before it typed
 * already (the importer's Einsum, frontend/einsum.c, needs its inputs'
 * shapes while the graph is still being imported). */
bool ir_infer_shapes_from(ir_graph *g, ir_node *from, nn_diag *d);
/* ir_infer_shapes with graph inputs bound on demand (nncc-run): avail[i]
 * (borrowed, or NULL) is data of g->inputs[i]'s exact type. When
 * inference fails at a node, the fewest inputs with data that it depends
 * on and that change that failure (let the node pass: a Reshape's shape,
 * a Resize's sizes; or show the real error: a training-mode Dropout) are
 * frozen to constants (ir_freeze_input), and inference goes on; the other
 * inputs stay inputs. frozen[i] (g->ninputs entries, as on entry) tells
 * which were frozen. False after reporting what still fails. */
bool ir_infer_shapes_binding(ir_graph *g, const void *const *avail,
			     bool *frozen, nn_diag *d);
/* The evaluation step of ir_infer_shapes for one typed node: if every
 * present input has data and the outputs are small (<= 1<<24 elements),
 * fills the outputs' data (in g->weights). False only on an eval error. */
bool ir_fold_node(ir_graph *g, ir_node *n, nn_diag *d);

/* verify.c: SSA form, arity against ops.def, every use defined before it
 * is used, static shapes, and shapes equal to what inference computes. */
bool ir_verify(ir_graph *g, nn_diag *d);

/* print.c / parse.c: the text form (see docs/ir.md). */
typedef struct ir_print_opts {
	bool weights; /* print every constant in full */
} ir_print_opts;
void ir_print(FILE *f, ir_graph *g, const ir_print_opts *o);
/* NULL on error (reported at line:col). text is borrowed. */
ir_graph *ir_parse(const char *text, size_t len, nn_diag *d);
/* Reads FILE as IR text; NULL on error. */
ir_graph *ir_parse_file(const char *path, nn_diag *d);

/* interp.c: the reference interpreter; it defines what every op means.
 * inputs and outputs are dense row-major buffers in graph order. */
bool ir_run(ir_graph *g, const void *const *inputs, void *const *outputs,
	    nn_diag *d);
/* ir_run with an observer: after every node runs, hook->fn sees it with
 * its operand and result buffers (valid only during the call; a result
 * that inference had computed is its value's data). fn returns false to
 * end the run there: ir_run_hooked then returns true without writing
 * outputs (which may be NULL when the hook always stops early). The
 * data-driven passes gather calibration statistics this way. */
typedef struct ir_run_hook {
	bool (*fn)(void *ctx, const ir_node *n, const void *const *in,
		   const void *const *out);
	void *ctx;
} ir_run_hook;
bool ir_run_hooked(ir_graph *g, const void *const *inputs,
		   void *const *outputs, const ir_run_hook *hook, nn_diag *d);
/* Evaluates one node with the kind's eval hook. */
bool ir_eval_node(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d);

#endif
