/* The ONNX frontend: ModelProto in, IR graph out. */
#ifndef NNCC_FRONTEND_H
#define NNCC_FRONTEND_H

#include "ir.h"

/* A binding of a graph input's dimensions from --input-shape NAME=1x3x8x8. */
typedef struct fe_input_shape {
	const char *name;
	ir_shape shape;
} fe_input_shape;

/* A graph input frozen to a constant (--input-value NAME=VALUE): a
 * scalar given as text and read as the input's element type, or the
 * array of a .npy file. */
typedef struct fe_input_value {
	const char *name;
	const char *text; /* the scalar as given; NULL for a .npy */
	const char *path; /* the .npy file, named in messages */
	ir_dtype dtype;   /* .npy only: its element type, shape and data */
	ir_shape shape;
	const void *data; /* borrowed */
} fe_input_value;

typedef struct fe_options {
	const fe_input_shape *shapes; /* borrowed */
	int nshapes;
	/* --input-value: frozen before shape inference, so the input leaves
	 * the graph (and the generated API) and inference sees its value. */
	const fe_input_value *values; /* borrowed */
	int nvalues;
	/* nncc-run (ONNX models only): data for the graph inputs that remain
	 * after `values`, in graph order (name unused). Where inference needs
	 * an input's value (a Reshape's shape), that input is frozen to its
	 * data (ir_infer_shapes_binding); frozen[i] (navail entries, the
	 * caller's) is then its name (in the graph's arena), else NULL.
	 * Ignored unless navail is their count. */
	const fe_input_value *avail; /* borrowed */
	int navail;
	const char **frozen;
} fe_options;

/* import.c */
/* Reads the ONNX model at path, imports it and runs shape inference.
 * Returns a graph the caller frees with ir_graph_free, or NULL after
 * reporting every problem found to d. */
ir_graph *fe_import_onnx(const char *path, const fe_options *o, nn_diag *d);
/* The same for a model already in memory (data borrowed); name is the
 * file name used in messages. External data is refused: there is no
 * folder to resolve it against. */
ir_graph *fe_import_onnx_buffer(const void *data, size_t len,
				const char *name, const fe_options *o,
				nn_diag *d);
/* Parses "NAME=1x3x224x224" into s; false if malformed (no name, a dim
 * that is not a positive decimal, more than IR_MAX_RANK dims, or more than
 * IR_MAX_ELEMS elements). NAME may contain '=' (the last one splits).
 * s->name is a copy that lives until the process exits. */
bool fe_parse_input_shape(const char *arg, fe_input_shape *s);
/* FNV-1a 64 of the bytes of the model at path ("-": stdin, as read) as
 * 16 hex digits into hex[17]; false if it cannot be read. */
bool fe_model_hash(const char *path, char hex[17]);
/* Loads a model by its content, whatever its name: ONNX (imported as by
 * fe_import_onnx) or IR text (parsed, then verified). path "-" is stdin,
 * read once and kept: every later load of "-" sees the same model. */
ir_graph *fe_load_model(const char *path, const fe_options *o, nn_diag *d);
/* Whether a model's bytes are IR text rather than ONNX: no control
 * bytes but whitespace in its head (ONNX starts with a protobuf tag). */
bool fe_is_ir_text(const void *data, size_t len);
enum { FE_MODEL_ONNX, FE_MODEL_TEXT };
/* The format of the model at path ("-": stdin): FE_MODEL_ONNX or
 * FE_MODEL_TEXT, or -1 if it cannot be read. */
int fe_model_format(const char *path);

/* values.c */
/* The --input-value for input `name`, or NULL. */
const fe_input_value *fe_find_value(const fe_options *o, const char *name);
/* Whether the .npy value v has element type t (u16 for bf16) and shape s. */
bool fe_value_fits(const fe_input_value *v, ir_dtype t, const ir_shape *s);
/* Freezes graph input `in` to v (ir_freeze_input) after checking that v
 * fits it: a scalar for a one-element input, readable as its type, or a
 * .npy of its dtype and shape. False after reporting a mismatch. */
bool fe_freeze_value(ir_graph *g, ir_value *in, const fe_input_value *v,
		     nn_diag *d);
/* Reports every --input-value given twice, or whose input was not found
 * (used[i] false for o->values[i]); false if there was one. */
bool fe_check_values(const fe_options *o, const bool *used, nn_diag *d);
/* Freezes the inputs of IR text g named by o's values, by name. */
bool fe_freeze_text_values(ir_graph *g, const fe_options *o, nn_diag *d);

/* export.c */
/* Writes g (borrowed, unchanged) as a plain ONNX model to path ("-":
 * stdout): standard ops only (nncc's fused ops become the Conv/Gemm, Add
 * and activation nodes they stand for), weights as they are (shared ones
 * as their dequantized floats), at the lowest opset that holds the forms
 * the IR uses. The file is replaced whole or not at all; false after
 * reporting the problem (a constant without data, a write error). */
bool fe_export_onnx(const ir_graph *g, const char *path, nn_diag *d);

/* nodes.c: the i-th ONNX op type the importer reads as another op (an
 * old name), false past the last. */
bool fe_import_alias(int i, const char **type, ir_op *op);

#endif
