/* Old-opset forms rewritten into the newest ONNX form at import, so that
 * kernel hooks implement only one form of each op (attributes that later
 * opsets turned into inputs become constant inputs). */
#include <string.h>

#include "fe_internal.h"

static ir_attr *
find_attr(ir_attr *attrs, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (attrs[i].name && strcmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/* Puts v at input slot idx, growing the input list with omitted (NULL)
 * inputs as needed; an input already given there conflicts. */
static bool
set_input(fe_ctx *c, const Onnx__NodeProto *np, ir_value ***in, int *nin,
	  int idx, ir_value *v, const char *attr)
{
	if (idx < *nin && (*in)[idx]) {
		fe_error_np(c, np, "attribute '%s' and input %d are both given",
			    attr, idx);
		return false;
	}
	if (idx >= *nin) {
		ir_value **grown = nn_alloc_array(c->tmp, (size_t)idx + 1,
						  sizeof *grown);
		memcpy(grown, *in, (size_t)*nin * sizeof *grown);
		*in = grown;
		*nin = idx + 1;
	}
	(*in)[idx] = v;
	return true;
}

/* Moves ints attribute `name` to input idx as a 1-D i64 constant. */
static bool
ints_to_input(fe_ctx *c, const Onnx__NodeProto *np, ir_attr *attrs,
	      int nattrs, ir_value ***in, int *nin, const char *name, int idx)
{
	ir_attr *a = find_attr(attrs, nattrs, name);
	if (!a)
		return true;
	ir_shape s = {.rank = 1, .dim = {a->n}};
	ir_value *v = ir_add_const(c->g, NULL, IR_I64, &s, a->ints);
	a->name = NULL;
	return set_input(c, np, in, nin, idx, v, name);
}

/* Moves int attribute `name` to input idx as a 1-element i64 constant. */
static bool
int_to_input(fe_ctx *c, const Onnx__NodeProto *np, ir_attr *attrs,
	     int nattrs, ir_value ***in, int *nin, const char *name, int idx)
{
	ir_attr *a = find_attr(attrs, nattrs, name);
	if (!a)
		return true;
	ir_shape s = {.rank = 1, .dim = {1}};
	ir_value *v = ir_add_const(c->g, NULL, IR_I64, &s, &a->i);
	a->name = NULL;
	return set_input(c, np, in, nin, idx, v, name);
}

/* Moves float attribute `name` to input idx as a scalar of the data
 * input's type when known (graph inputs and constants), else f32: node
 * outputs have no type until shape inference, and these old float-only
 * forms almost always carry f32. */
static bool
float_to_input(fe_ctx *c, const Onnx__NodeProto *np, ir_attr *attrs,
	       int nattrs, ir_value ***in, int *nin, const char *name,
	       int idx)
{
	ir_attr *a = find_attr(attrs, nattrs, name);
	if (!a)
		return true;
	ir_dtype t = IR_F32;
	if (*nin > 0 && (*in)[0] && ir_dtype_is_float((*in)[0]->dtype))
		t = (*in)[0]->dtype;
	ir_shape s = {.rank = 0};
	ir_value *v = ir_add_const(c->g, NULL, t, &s, NULL);
	ir_store_f64(v->data, t, 0, a->f);
	ir_const_facts(v);
	a->name = NULL;
	return set_input(c, np, in, nin, idx, v, name);
}

static void
drop_attr(ir_attr *attrs, int nattrs, const char *name)
{
	ir_attr *a = find_attr(attrs, nattrs, name);
	if (a)
		a->name = NULL;
}

static void
add_str_attr(fe_ctx *c, ir_attr **attrs, int *nattrs, const char *name,
	     const char *val)
{
	if (find_attr(*attrs, *nattrs, name))
		return;
	ir_attr *grown = nn_alloc_array(c->tmp, (size_t)*nattrs + 1,
					sizeof *grown);
	memcpy(grown, *attrs, (size_t)*nattrs * sizeof *grown);
	grown[*nattrs] = (ir_attr){.name = ir_intern(c->g, name),
				   .kind = IR_ATTR_STRING,
				   .s = ir_intern(c->g, val)};
	*attrs = grown;
	++*nattrs;
}

/* BatchNormalization: training_mode=1 stays on the node (the reference
 * interpreter implements it; codegen and the folding passes must not
 * treat it as the inference form). */
static bool
convert_bn(fe_ctx *c, const Onnx__NodeProto *np, ir_attr *attrs, int nattrs)
{
	ir_attr *a = find_attr(attrs, nattrs, "spatial");
	if (a && a->i != 1) {
		fe_error_np(c, np, "spatial=%lld is not supported",
			    (long long)a->i);
		return false;
	}
	a = find_attr(attrs, nattrs, "training_mode");
	if (a && a->i != 0 && a->i != 1) {
		fe_error_np(c, np, "training_mode=%lld is not supported",
			    (long long)a->i);
		return false;
	}
	drop_attr(attrs, nattrs, "spatial");
	if (!a || a->i == 0)
		drop_attr(attrs, nattrs, "training_mode");
	return true;
}

/* Resize-10 is (X, scales) with Upsample's coordinates; Resize-11 put roi
 * between them and made the coordinate mapping an attribute. */
static void
convert_resize10(fe_ctx *c, ir_attr **attrs, int *nattrs, ir_value ***in,
		 int *nin, bool upsample)
{
	if ((c->opset >= 11 && !upsample) || *nin != 2)
		return;
	ir_value **grown = nn_alloc_array(c->tmp, 3, sizeof *grown);
	grown[0] = (*in)[0];
	grown[2] = (*in)[1];
	*in = grown;
	*nin = 3;
	ir_attr *mode = find_attr(*attrs, *nattrs, "mode");
	if (!mode || strcmp(mode->s, "nearest") == 0)
		add_str_attr(c, attrs, nattrs, "nearest_mode", "floor");
	add_str_attr(c, attrs, nattrs, "coordinate_transformation_mode",
		     "asymmetric");
}

/* Upsample is Resize-10 with its scales as input 1 (opset 9) or as an
 * attribute (opset 7), and "bilinear" for linear in old exports. */
static bool
convert_upsample(fe_ctx *c, const Onnx__NodeProto *np, ir_attr **attrs,
		 int *nattrs, ir_value ***in, int *nin)
{
	ir_attr *s = find_attr(*attrs, *nattrs, "scales");
	ir_attr *mode = find_attr(*attrs, *nattrs, "mode");
	if (s) {
		ir_shape sh = {.rank = 1, .dim = {s->n}};
		ir_value *v = ir_add_const(c->g, NULL, IR_F32, &sh, NULL);
		for (int i = 0; i < s->n; i++)
			((float *)v->data)[i] = (float)s->floats[i];
		s->name = NULL;
		if (!set_input(c, np, in, nin, 1, v, "scales"))
			return false;
	}
	if (mode && strcmp(mode->s, "bilinear") == 0)
		mode->s = "linear";
	convert_resize10(c, attrs, nattrs, in, nin, true);
	return true;
}

/* Scan-8 runs its body per batch row (every input and output has the
 * batch as axis 0, the scan inputs time as axis 1): it becomes a Scan
 * over the batch (all its inputs scanned along axis 0) whose body is a
 * Scan-9 over time with the original body. sequence_lens (input 0) must
 * be omitted. */
static bool
convert_scan8(fe_ctx *c, const Onnx__NodeProto *np, ir_attr *a, int na,
	      ir_value ***in, int *nin)
{
	ir_attr *body = find_attr(a, na, "body"), *k = find_attr(a, na,
		"num_scan_inputs"), *dirs = find_attr(a, na, "directions");
	if (!body || !k) {
		fe_error_np(c, np, "needs body and num_scan_inputs");
		return false;
	}
	if (*nin > 0 && (*in)[0]) {
		fe_error_np(c, np, "Scan (opset 8) with sequence_lens is not "
			    "supported (every sequence must be whole)");
		return false;
	}
	ir_graph *b = body->g;
	int nc = b->ncaptured, nx = *nin - 1 - nc;
	if (nx < (int)k->i || k->i < 1 || (dirs && dirs->n != (int)k->i)) {
		fe_error_np(c, np, "num_scan_inputs %lld or directions do not "
			    "fit its %d inputs", (long long)k->i, nx);
		return false;
	}
	/* the body of the batch Scan: the time Scan over one batch row */
	ir_graph *w = ir_subgraph_new(c->g, "scan8_row");
	ir_value **win = nn_alloc_array(c->tmp, (size_t)(nx + nc) + 1,
					sizeof *win);
	for (int i = 0; i < nx + nc; i++)
		win[i] = ir_add_input(w, (*in)[1 + i] ? (*in)[1 + i]->name
				      : NULL, IR_UNDEF, NULL);
	w->ncaptured = nc;
	ir_node *t = ir_add_node(w, OP_Scan, np->name, nx + nc, win,
				 b->noutputs);
	ir_set_attr(w, t, "body", IR_ATTR_GRAPH)->g = b;
	b->parent = w;
	ir_set_attr(w, t, "num_scan_inputs", IR_ATTR_INT)->i = k->i;
	if (dirs) {
		ir_attr *d = ir_set_attr(w, t, "scan_input_directions",
					 IR_ATTR_INTS);
		d->n = dirs->n;
		d->ints = dirs->ints;
		dirs->name = NULL;
	}
	for (int i = 0; i < b->noutputs; i++)
		ir_add_output(w, t->out[i]);
	body->g = w;
	k->i = nx;
	*in += 1; /* sequence_lens, omitted, goes */
	*nin -= 1;
	return true;
}

bool
fe_convert_old_form(fe_ctx *c, const Onnx__NodeProto *np, ir_op op,
		    ir_attr **attrs, int *nattrs, ir_value ***in, int *nin)
{
	ir_attr *a = *attrs;
	int na = *nattrs;
	switch (op) {
	case OP_Clip:
		return float_to_input(c, np, a, na, in, nin, "min", 1) &&
		       float_to_input(c, np, a, na, in, nin, "max", 2);
	case OP_Slice:
		return ints_to_input(c, np, a, na, in, nin, "starts", 1) &&
		       ints_to_input(c, np, a, na, in, nin, "ends", 2) &&
		       ints_to_input(c, np, a, na, in, nin, "axes", 3);
	case OP_Pad:
		return ints_to_input(c, np, a, na, in, nin, "pads", 1) &&
		       float_to_input(c, np, a, na, in, nin, "value", 2);
	case OP_Split:
		return ints_to_input(c, np, a, na, in, nin, "split", 1);
	case OP_Squeeze:
	case OP_Unsqueeze:
	case OP_ReduceMean:
	case OP_ReduceSum:
	case OP_ReduceMax:
		return ints_to_input(c, np, a, na, in, nin, "axes", 1);
	case OP_Dropout:
		drop_attr(a, na, "ratio");
		drop_attr(a, na, "is_test");
		drop_attr(a, na, "seed");
		return true;
	case OP_BatchNormalization:
		return convert_bn(c, np, a, na);
	case OP_TopK:
		/* TopK-1: K an attribute */
		return int_to_input(c, np, a, na, in, nin, "k", 1);
	case OP_ScatterElements:
		/* Scatter-9/11 has axis only: a reduction is not its own */
		if (strcmp(fe_str(np->op_type), "Scatter") == 0 &&
		    find_attr(a, na, "reduction")) {
			fe_error_np(c, np, "Scatter has no attribute "
				    "'reduction' (ScatterElements-16 has)");
			return false;
		}
		return true;
	case OP_Scan:
		return c->opset >= 9 || convert_scan8(c, np, a, na, in, nin);
	case OP_Resize:
		if (strcmp(fe_str(np->op_type), "Upsample") == 0)
			return convert_upsample(c, np, attrs, nattrs, in, nin);
		convert_resize10(c, attrs, nattrs, in, nin, false);
		return true;
	default:
		return true;
	}
}
