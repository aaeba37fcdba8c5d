/* Lowering of BatchNormalization (inference form) and
 * LayerNormalization (with its optional Mean and InvStdDev outputs). */
#include "cg_internal.h"

static bool
lower_batchnorm(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int64_t dims[2] = {x->dim[0], x->rank > 1 ? x->dim[1] : 1};
	int64_t sp = ir_shape_numel(x) / (dims[0] * dims[1]);
	double eps = ir_attr_float(n, "epsilon", 1e-5);
	LLVMValueRef ivs[2], c, a, mean, b, base, i, v;
	cg_loop lo[2], li;

	if (ir_attr_int(n, "training_mode", 0))
		return cg_fail(f, "training_mode=1 is not supported");
	cg_nest_begin(f, 2, dims, ivs, lo);
	c = ivs[1];
	a = cg_load_c(f, f->in[4], c, n->in[4]->dtype);
	a = LLVMBuildFAdd(f->b, a, cg_fconst(f, ct, eps), "");
	a = cg_intrin(f, "sqrt", ct, 1, &a);
	a = LLVMBuildFDiv(f->b, cg_load_c(f, f->in[1], c, n->in[1]->dtype), a,
			  "");
	mean = cg_load_c(f, f->in[3], c, n->in[3]->dtype);
	b = cg_load_c(f, f->in[2], c, n->in[2]->dtype);
	base = LLVMBuildNSWMul(f->b, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(
		f->b, ivs[0], cg_i64(f, dims[1]), ""), c, ""), cg_i64(f, sp),
		"");
	i = cg_loop_begin(f, sp, &li);
	i = LLVMBuildNSWAdd(f->b, base, i, "");
	v = LLVMBuildFSub(f->b, cg_load_c(f, f->in[0], i, t), mean, "");
	v = LLVMBuildFAdd(f->b, LLVMBuildFMul(f->b, v, a, ""), b, "");
	cg_store_c(f, f->out[0], i, v, t);
	cg_loop_end(f, &li);
	cg_nest_end(f, 2, lo);
	return true;
}

/* Sum over the row at base of g(x) where g is x or (x - m)^2. */
static LLVMValueRef
row_sum(cg_fn *f, LLVMValueRef base, int64_t inner, LLVMValueRef m,
	ir_dtype t)
{
	ir_dtype ct = cg_ctype(t);
	LLVMValueRef a = cg_alloca(f, cg_type(f->c, ct)), i, v;
	cg_loop l;

	LLVMBuildStore(f->b, cg_fconst(f, ct, 0), a);
	i = cg_loop_begin(f, inner, &l);
	v = cg_load_c(f, f->in[0], LLVMBuildNSWAdd(f->b, base, i, ""), t);
	if (m) {
		v = LLVMBuildFSub(f->b, v, m, "");
		v = LLVMBuildFMul(f->b, v, v, "");
	}
	LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, LLVMBuildLoad2(f->b,
		cg_type(f->c, ct), a, ""), v, ""), a);
	cg_loop_end(f, &l);
	v = LLVMBuildLoad2(f->b, cg_type(f->c, ct), a, "");
	return LLVMBuildFDiv(f->b, v, cg_fconst(f, ct, (double)inner), "");
}

/* Element i of a scale/bias operand: per-element or a single value. */
static LLVMValueRef
param(cg_fn *f, int k, LLVMValueRef i)
{
	const ir_value *p = f->n->in[k];

	if (ir_shape_numel(&p->shape) == 1)
		i = cg_i64(f, 0);
	return cg_load_c(f, f->in[k], i, p->dtype);
}

static bool
lower_layernorm(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int ax = cg_axis(ir_attr_int(n, "axis", -1), x->rank);
	int64_t outer = 1, inner = 1;
	LLVMValueRef o, base, mean, inv, i, v;
	cg_loop lo, li;

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	for (int k = 0; k < x->rank; k++)
		*(k < ax ? &outer : &inner) *= x->dim[k];
	for (int k = 1; k < 3 && k < n->nin; k++) {
		int64_t c = n->in[k] ? ir_shape_numel(&n->in[k]->shape) : 1;
		if (c != 1 && c != inner)
			return cg_fail(f, "broadcast scale/bias shape is not "
				       "supported");
	}
	o = cg_loop_begin(f, outer, &lo);
	base = LLVMBuildNSWMul(f->b, o, cg_i64(f, inner), "");
	mean = row_sum(f, base, inner, NULL, t);
	inv = row_sum(f, base, inner, mean, t);
	inv = LLVMBuildFAdd(f->b, inv, cg_fconst(f, ct, ir_attr_float(n,
		"epsilon", 1e-5)), "");
	inv = cg_intrin(f, "sqrt", ct, 1, &inv);
	inv = LLVMBuildFDiv(f->b, cg_fconst(f, ct, 1), inv, "");
	if (n->nout > 1 && f->out[1])
		cg_store_c(f, f->out[1], o, mean, n->out[1]->dtype);
	if (n->nout > 2 && f->out[2])
		cg_store_c(f, f->out[2], o, inv, n->out[2]->dtype);
	i = cg_loop_begin(f, inner, &li);
	v = cg_load_c(f, f->in[0], LLVMBuildNSWAdd(f->b, base, i, ""), t);
	v = LLVMBuildFMul(f->b, LLVMBuildFSub(f->b, v, mean, ""), inv, "");
	v = LLVMBuildFMul(f->b, v, param(f, 1, i), "");
	if (n->nin > 2 && n->in[2])
		v = LLVMBuildFAdd(f->b, v, param(f, 2, i), "");
	cg_store_c(f, f->out[0], LLVMBuildNSWAdd(f->b, base, i, ""), v, t);
	cg_loop_end(f, &li);
	cg_loop_end(f, &lo);
	return true;
}

bool
cg_lower_norm(cg_fn *f)
{
	if (!ir_dtype_is_float(f->n->in[0]->dtype))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(f->n->in[0]->dtype));
	if (f->n->op == OP_BatchNormalization &&
	    ir_attr_int(f->n, "training_mode", 0) != 0)
		return cg_fail(f, "training_mode=1 is not supported");
	if (f->n->op == OP_BatchNormalization)
		return lower_batchnorm(f);
	return lower_layernorm(f);
}
