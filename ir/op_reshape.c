/* The reshape kind: ops that keep the bytes and change only the shape
 * (Reshape, Flatten, Squeeze, Unsqueeze, Identity, inference-mode Dropout).
 * Shape hooks do all the work; the kernel is a copy. */
#include <string.h>

#include "ir.h"

static const ir_value *
opt_in(const ir_node *n, int i)
{
	return i < n->nin ? n->in[i] : NULL;
}

/* Reads the 1-D integer input i (a shape or an axes list) into v, at most
 * max elements. Data-dependent shapes need it constant at compile time. */
static bool
const_ints(const ir_node *n, int i, const char *what, int64_t *v, int max,
	   int *count, nn_diag *d)
{
	const ir_value *x = n->in[i];
	if (!x->data) {
		nn_error_node(d, n, "input %d (%s) must be a constant", i, what);
		return false;
	}
	if (x->dtype != IR_I64 && x->dtype != IR_I32) {
		nn_error_node(d, n, "input %d (%s) must be int64, not %s", i,
			      what, ir_dtype_name(x->dtype));
		return false;
	}
	int64_t k = ir_shape_numel(&x->shape);
	if (x->shape.rank > 1 || k < 0 || k > max) {
		nn_error_node(d, n, "input %d (%s) must be a 1-D list of at "
			      "most %d values", i, what, max);
		return false;
	}
	for (int64_t j = 0; j < k; j++)
		v[j] = ir_load_i64(x->data, x->dtype, j);
	*count = (int)k;
	return true;
}

/* Resolves the 0 (copy) and -1 (infer) entries of a Reshape target. */
static bool
reshape_target(const ir_node *n, const ir_shape *in, ir_shape *out,
	       nn_diag *d)
{
	int64_t v[IR_MAX_RANK];
	int k;
	if (!const_ints(n, 1, "shape", v, IR_MAX_RANK, &k, d))
		return false;
	bool allowzero = ir_attr_i(n, "allowzero") != 0;
	int infer = -1;
	int64_t known = 1;
	out->rank = k;
	for (int i = 0; i < k; i++) {
		int64_t x = v[i];
		if (x == 0 && !allowzero) {
			if (i >= in->rank) {
				nn_error_node(d, n, "shape[%d] is 0 (copy) but "
					      "the input has rank %d", i,
					      in->rank);
				return false;
			}
			x = in->dim[i];
		}
		if (x == -1) {
			if (infer >= 0) {
				nn_error_node(d, n, "shape has more than one "
					      "-1");
				return false;
			}
			infer = i;
			continue;
		}
		if (x < 0) {
			nn_error_node(d, n, "shape[%d] is %lld", i,
				      (long long)x);
			return false;
		}
		out->dim[i] = x;
		/* saturates past any tensor's size (a huge target dim is
		 * then a mismatch below, not a signed overflow) */
		known = x && known > IR_MAX_ELEMS / x ? IR_MAX_ELEMS + 1
						      : known * x;
	}
	int64_t total = ir_shape_numel(in);
	if (infer >= 0) {
		if (known == 0 || total % known != 0) {
			nn_error_node(d, n, "cannot infer the -1 of shape: %lld "
				      "elements do not divide into %lld",
				      (long long)total, (long long)known);
			return false;
		}
		out->dim[infer] = total / known;
		known = total;
	}
	if (known != total) {
		char a[96], b[96];
		ir_shape_str(in, a, sizeof a);
		ir_shape_str(out, b, sizeof b);
		nn_error_node(d, n, "cannot reshape %s (%lld elements) to %s",
			      a, (long long)total, b);
		return false;
	}
	return true;
}

static bool
flatten_shape(const ir_node *n, const ir_shape *in, ir_shape *out,
	      nn_diag *d)
{
	int64_t axis = ir_attr_i(n, "axis");
	if (axis < -in->rank || axis > in->rank) {
		nn_error_node(d, n, "axis %lld out of range for rank %d",
			      (long long)axis, in->rank);
		return false;
	}
	if (axis < 0)
		axis += in->rank;
	out->rank = 2;
	out->dim[0] = out->dim[1] = 1;
	for (int i = 0; i < in->rank; i++)
		out->dim[i < axis ? 0 : 1] *= in->dim[i];
	return true;
}

/* Squeeze: the listed axes (which must be 1), or every 1-dim. */
static bool
squeeze_shape(const ir_node *n, const ir_shape *in, ir_shape *out,
	      nn_diag *d)
{
	bool drop[IR_MAX_RANK] = {false};
	int64_t v[IR_MAX_RANK];
	int k = 0;
	if (opt_in(n, 1)) {
		if (!const_ints(n, 1, "axes", v, IR_MAX_RANK, &k, d))
			return false;
	} else {
		for (int i = 0; i < in->rank; i++)
			drop[i] = in->dim[i] == 1;
	}
	for (int j = 0; j < k; j++) {
		int64_t a = v[j] < 0 ? v[j] + in->rank : v[j];
		if (a < 0 || a >= in->rank || in->dim[a] != 1) {
			nn_error_node(d, n, "cannot squeeze axis %lld of a "
				      "rank-%d input: %s", (long long)v[j],
				      in->rank, a < 0 || a >= in->rank ?
				      "out of range" : "dim is not 1");
			return false;
		}
		drop[a] = true;
	}
	out->rank = 0;
	for (int i = 0; i < in->rank; i++)
		if (!drop[i])
			out->dim[out->rank++] = in->dim[i];
	return true;
}

/* Unsqueeze: axes index the output, whose rank is rank + len(axes). */
static bool
unsqueeze_shape(const ir_node *n, const ir_shape *in, ir_shape *out,
		nn_diag *d)
{
	bool ins[IR_MAX_RANK] = {false};
	int64_t v[IR_MAX_RANK];
	int k;
	if (!opt_in(n, 1)) {
		nn_error_node(d, n, "missing input 1 (axes)");
		return false;
	}
	if (!const_ints(n, 1, "axes", v, IR_MAX_RANK, &k, d))
		return false;
	out->rank = in->rank + k;
	if (out->rank > IR_MAX_RANK) {
		nn_error_node(d, n, "output rank %d exceeds %d", out->rank,
			      IR_MAX_RANK);
		return false;
	}
	for (int j = 0; j < k; j++) {
		int64_t a = v[j] < 0 ? v[j] + out->rank : v[j];
		if (a < 0 || a >= out->rank || ins[a]) {
			nn_error_node(d, n, "axis %lld is %s for output rank "
				      "%d", (long long)v[j], a < 0 ||
				      a >= out->rank ? "out of range" :
				      "repeated", out->rank);
			return false;
		}
		ins[a] = true;
	}
	for (int i = 0, s = 0; i < out->rank; i++)
		out->dim[i] = ins[i] ? 1 : in->dim[s++];
	return true;
}

/* Training-mode Dropout with a non-zero ratio is random: refuse it once
 * the data shows it (at shape time the inputs may still be unknown). */
static bool
dropout_training(const ir_node *n, const void *ratio, const void *train)
{
	const ir_value *r = opt_in(n, 1), *t = opt_in(n, 2);
	if (!t || !train || !ir_load_i64(train, t->dtype, 0))
		return false;
	if (!r)
		return true; /* the default ratio is 0.5 */
	return ratio && ir_load_f64(ratio, r->dtype, 0) != 0.0;
}

bool
ir_shape_reshape(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0];
	ir_shape s = x->shape;
	bool ok = true;
	switch (n->op) {
	case OP_Reshape: ok = reshape_target(n, &x->shape, &s, d); break;
	case OP_Flatten: ok = flatten_shape(n, &x->shape, &s, d); break;
	case OP_Squeeze: ok = squeeze_shape(n, &x->shape, &s, d); break;
	case OP_Unsqueeze: ok = unsqueeze_shape(n, &x->shape, &s, d); break;
	case OP_Dropout: {
		const ir_value *r = opt_in(n, 1), *t = opt_in(n, 2);
		/* Generated code is the identity: it must know at compile
		 * time that the node does not drop (nncc-run freezes these
		 * inputs to the data given). */
		if (t && !t->data) {
			nn_error_node(d, n, "training_mode (input 2) must be a "
				      "constant");
			return false;
		}
		if (r && !r->data && t && ir_load_i64(t->data, t->dtype, 0)) {
			nn_error_node(d, n, "ratio (input 1) must be a constant "
				      "in training mode");
			return false;
		}
		if (dropout_training(n, r ? r->data : NULL,
				     t ? t->data : NULL)) {
			nn_error_node(d, n, "training-mode Dropout (random) "
				      "is not supported");
			return false;
		}
		break;
	}
	default: break;
	}
	if (!ok)
		return false;
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = s;
	if (n->op == OP_Dropout && n->nout > 1 && n->out[1]) {
		n->out[1]->dtype = IR_BOOL;
		n->out[1]->shape = s;
	}
	return true;
}

bool
ir_eval_reshape(const ir_node *n, const void *const *in, void *const *out,
		nn_diag *d)
{
	const ir_value *x = n->in[0];
	int64_t numel = ir_shape_numel(&x->shape);
	if (n->op == OP_Dropout &&
	    dropout_training(n, n->nin > 1 ? in[1] : NULL,
			     n->nin > 2 ? in[2] : NULL)) {
		nn_error_node(d, n, "training-mode Dropout (random) is not "
			      "supported");
		return false;
	}
	if (out[0] != in[0] && numel > 0)
		memcpy(out[0], in[0], (size_t)numel * ir_dtype_size(x->dtype));
	if (n->op == OP_Dropout && n->nout > 1 && n->out[1] && numel > 0)
		memset(out[1], 1, (size_t)numel);
	return true;
}
