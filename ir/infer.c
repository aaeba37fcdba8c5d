/* Shape inference over a whole graph: the kind hooks type every node
 * output, and nodes whose inputs are all known are evaluated so that
 * data-dependent shapes downstream (Reshape targets) resolve statically. */
#include "ir.h"

/* Outputs bigger than this are not evaluated during inference: shape
 * chains are tiny, and folding big tensors is const-fold's decision. */
#define FOLD_MAX_ELEMS ((int64_t)1 << 24)

static bool
check_arity(const ir_node *n, nn_diag *d)
{
	const ir_op_info *op = &ir_ops[n->op];
	if (n->nin < op->min_in || (op->max_in >= 0 && n->nin > op->max_in)) {
		nn_error_node(d, n, "%d inputs, expected %d to %d", n->nin,
			      op->min_in, op->max_in);
		return false;
	}
	if (n->nout < op->min_out ||
	    (op->max_out >= 0 && n->nout > op->max_out)) {
		nn_error_node(d, n, "%d outputs, expected %d to %d", n->nout,
			      op->min_out, op->max_out);
		return false;
	}
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && n->in[i]->dtype == IR_UNDEF) {
			nn_error_node(d, n, "input %d ('%s') has no type", i,
				      ir_value_label(n->in[i]));
			return false;
		}
	return true;
}

static bool
check_output(const ir_node *n, int i, nn_diag *d)
{
	const ir_value *v = n->out[i];
	char buf[160];
	if (v->dtype == IR_UNDEF || ir_dtype_size(v->dtype) == 0) {
		nn_error_node(d, n, "output %d has no element type", i);
		return false;
	}
	for (int k = 0; k < v->shape.rank; k++)
		if (v->shape.dim[k] < 0) {
			ir_shape_str(&v->shape, buf, sizeof buf);
			nn_error_node(d, n, "output %d has an unknown dimension "
				      "%s (pin it with --input-shape)", i, buf);
			return false;
		}
	if (v->shape.rank < 0 || v->shape.rank > IR_MAX_RANK ||
	    ir_shape_numel(&v->shape) < 0) {
		ir_shape_str(&v->shape, buf, sizeof buf);
		nn_error_node(d, n, "output %d of shape %s is too large "
			      "(more than %lld elements)", i, buf,
			      (long long)IR_MAX_ELEMS);
		return false;
	}
	return true;
}

static bool
inputs_known(const ir_node *n)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && !n->in[i]->data)
			return false;
	return true;
}

bool
ir_fold_node(ir_graph *g, ir_node *n, nn_diag *d)
{
	void *out[n->nout > 0 ? n->nout : 1];
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		if (v && (v->data || ir_shape_numel(&v->shape) > FOLD_MAX_ELEMS))
			return true; /* Shape filled it, or too big to bother */
	}
	if (!inputs_known(n))
		return true;
	const void *in[n->nin > 0 ? n->nin : 1];
	for (int i = 0; i < n->nin; i++)
		in[i] = n->in[i] ? n->in[i]->data : NULL;
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		out[i] = NULL;
		if (v)
			out[i] = nn_alloc(g->weights,
					  (size_t)ir_shape_numel(&v->shape) *
						  ir_dtype_size(v->dtype));
	}
	if (!ir_eval_node(n, in, out, d))
		return false;
	for (int i = 0; i < n->nout; i++)
		if (n->out[i])
			n->out[i]->data = out[i];
	return true;
}

bool
ir_infer_shapes(ir_graph *g, nn_diag *d)
{
	return ir_infer_shapes_from(g, g->first, d);
}

bool
ir_infer_shapes_from(ir_graph *g, ir_node *from, nn_diag *d)
{
	ir_number_values(g); /* messages name unnamed values by number */
	for (ir_node *n = from; n; n = n->next) {
		if (!check_arity(n, d))
			return false;
		/* Data from an earlier run may be stale after a pass. */
		for (int i = 0; i < n->nout; i++)
			if (n->out[i])
				n->out[i]->data = NULL;
		ir_shape_fn shape = ir_kinds[ir_ops[n->op].kind].shape;
		NN_ASSERT(shape);
		if (!shape(g, n, d))
			return false;
		for (int i = 0; i < n->nout; i++)
			if (n->out[i] && !check_output(n, i, d))
				return false;
		if (!ir_fold_node(g, n, d))
			return false;
	}
	return true;
}
