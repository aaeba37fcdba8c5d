/* The ONNX frontend: ModelProto in, IR graph out. */
#ifndef NNCC_FRONTEND_H
#define NNCC_FRONTEND_H

#include "ir.h"

/* A binding of a graph input's dimensions from --input-shape NAME=1x3x8x8. */
typedef struct fe_input_shape {
	const char *name;
	ir_shape shape;
} fe_input_shape;

typedef struct fe_options {
	const fe_input_shape *shapes; /* borrowed */
	int nshapes;
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
/* Loads a model by extension: ".onnx" through fe_import_onnx, anything
 * else as IR text (then verified). */
ir_graph *fe_load_model(const char *path, const fe_options *o, nn_diag *d);

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
