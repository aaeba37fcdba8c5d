/* Lowering of BatchNormalization (inference form), LayerNormalization
 * (with its optional Mean and InvStdDev outputs), InstanceNormalization,
 * MeanVarianceNormalization and LRN. */
#include "cg_internal.h"

static bool
lower_batchnorm(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int64_t dims[2] = {x->dim[0], x->rank > 1 ? x->dim[1] : 1};
	int64_t sp = ir_shape_numel(x) / (dims[0] * dims[1]);
	double eps = ir_attr_f(n, "epsilon");
	LLVMValueRef ivs[2], c, a, mean, b, base, i, v;
	cg_loop lo[2], li;

	if (ir_attr_i(n, "training_mode"))
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
	int ax = cg_axis(ir_attr_i(n, "axis"), x->rank);
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

/* The reduced axes of a group normalization: their sizes and input
 * strides. */
typedef struct group_axes {
	int nr;
	int64_t rd[IR_MAX_RANK], rs[IR_MAX_RANK];
} group_axes;

/* The group normalizations and LRN compute in f64 (cg_load_f64) as the
 * interpreter does, so that a group of (nearly) equal values, whose
 * variance is all rounding, normalizes as it does there. */
static void
store64(cg_fn *f, LLVMValueRef i, LLVMValueRef v)
{
	ir_dtype t = f->n->out[0]->dtype;

	cg_store_c(f, f->out[0], i, cg_convert(f, v, IR_F64, cg_ctype(t)), t);
}

/* Mean over the group at base of x, or of (x - m)^2 with m. */
static LLVMValueRef
group_mean(cg_fn *f, const group_axes *ga, LLVMValueRef base,
	   LLVMValueRef m, int64_t cnt)
{
	ir_dtype ct = IR_F64;
	LLVMValueRef a = cg_alloca(f, cg_type(f->c, ct)), ivs[IR_MAX_RANK], v;
	cg_loop l[IR_MAX_RANK];

	LLVMBuildStore(f->b, cg_fconst(f, ct, 0), a);
	cg_nest_begin(f, ga->nr, ga->rd, ivs, l);
	v = cg_load_f64(f, 0, cg_iadd(f, base, cg_linear(f, ga->nr, ivs, ga->rs,
		0)));
	if (m) {
		v = LLVMBuildFSub(f->b, v, m, "");
		v = LLVMBuildFMul(f->b, v, v, "");
	}
	LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, LLVMBuildLoad2(f->b,
		cg_type(f->c, ct), a, ""), v, ""), a);
	cg_nest_end(f, ga->nr, l);
	v = LLVMBuildLoad2(f->b, cg_type(f->c, ct), a, "");
	return LLVMBuildFDiv(f->b, v, cg_fconst(f, ct, (double)cnt), "");
}

/* InstanceNormalization and MeanVarianceNormalization (ir_norm_axes
 * picks the axes): per group, the mean and variance, then the scaled
 * output exactly as ir/op_norm.c's eval_group computes it. */
static bool
lower_group(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype ct = IR_F64;
	bool mask[IR_MAX_RANK], inst = n->op == OP_InstanceNormalization;
	int64_t st[IR_MAX_RANK], kd[IR_MAX_RANK], ks[IR_MAX_RANK], cnt = 1;
	int nk = 0, chan = -1;
	group_axes ga = {0};
	LLVMValueRef ivs[IR_MAX_RANK], rv[IR_MAX_RANK], base, mean, sd, i, v;
	cg_loop lo[IR_MAX_RANK], li[IR_MAX_RANK];

	if (!ir_norm_axes(n, mask, f->c->d))
		return false;
	cg_strides(x, st);
	for (int k = 0; k < x->rank; k++) {
		if (mask[k]) {
			ga.rd[ga.nr] = x->dim[k];
			ga.rs[ga.nr++] = st[k];
			cnt *= x->dim[k];
			continue;
		}
		if (k == 1)
			chan = nk;
		kd[nk] = x->dim[k];
		ks[nk++] = st[k];
	}
	cg_nest_begin(f, nk, kd, ivs, lo);
	base = cg_linear(f, nk, ivs, ks, 0);
	mean = group_mean(f, &ga, base, NULL, cnt);
	sd = group_mean(f, &ga, base, mean, cnt);
	if (inst)
		sd = LLVMBuildFAdd(f->b, sd, cg_fconst(f, ct, ir_attr_f(n,
			"epsilon")), "");
	sd = cg_intrin(f, "sqrt", ct, 1, &sd);
	if (!inst)
		sd = LLVMBuildFAdd(f->b, sd, cg_fconst(f, ct, 1e-9), "");
	cg_nest_begin(f, ga.nr, ga.rd, rv, li);
	i = cg_iadd(f, base, cg_linear(f, ga.nr, rv, ga.rs, 0));
	v = LLVMBuildFSub(f->b, cg_load_f64(f, 0, i), mean, "");
	v = LLVMBuildFDiv(f->b, v, sd, "");
	if (inst) {
		NN_ASSERT(chan >= 0);
		v = LLVMBuildFMul(f->b, v, cg_load_f64(f, 1, ivs[chan]), "");
		v = LLVMBuildFAdd(f->b, v, cg_load_f64(f, 2, ivs[chan]), "");
	}
	store64(f, i, v);
	cg_nest_end(f, ga.nr, li);
	cg_nest_end(f, nk, lo);
	return true;
}

/* LRN: each element over its channel window (ir/op_norm.c's eval_lrn);
 * window positions outside [0, C) add nothing and read nothing. */
static bool
lower_lrn(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype ct = IR_F64;
	int64_t size = ir_attr_req_i(n, "size"), pre = (size - 1) / 2;
	int64_t dims[3] = {x->dim[0], x->dim[1], 1};
	LLVMTypeRef ty = cg_type(f->c, ct);
	LLVMValueRef ivs[3], acc, k, cc, ok, v, base, p[2];
	cg_loop lo[3], lk;

	for (int d = 2; d < x->rank; d++)
		dims[2] *= x->dim[d];
	acc = cg_alloca(f, ty);
	cg_nest_begin(f, 3, dims, ivs, lo);
	base = cg_imul(f, ivs[0], dims[1] * dims[2]);
	LLVMBuildStore(f->b, cg_fconst(f, ct, 0), acc);
	k = cg_loop_begin(f, size, &lk);
	cc = cg_iadd(f, ivs[1], LLVMBuildSub(f->b, k, cg_i64(f, pre), ""));
	ok = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntSGE, cc, cg_i64(f,
		0), ""), LLVMBuildICmp(f->b, LLVMIntSLT, cc, cg_i64(f,
		dims[1]), ""), "");
	cc = LLVMBuildSelect(f->b, ok, cc, ivs[1], "");
	v = cg_load_f64(f, 0, cg_iadd(f, cg_iadd(f, base, cg_imul(f, cc, dims[2])),
		ivs[2]));
	v = LLVMBuildSelect(f->b, ok, LLVMBuildFMul(f->b, v, v, ""),
			    cg_fconst(f, ct, 0), "");
	LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, LLVMBuildLoad2(f->b, ty, acc,
		""), v, ""), acc);
	cg_loop_end(f, &lk);
	p[0] = LLVMBuildFMul(f->b, LLVMBuildLoad2(f->b, ty, acc, ""),
			     cg_fconst(f, ct, ir_attr_f(n, "alpha") /
					      (double)size), "");
	p[0] = LLVMBuildFAdd(f->b, p[0], cg_fconst(f, ct, ir_attr_f(n,
		"bias")), "");
	p[1] = cg_fconst(f, ct, ir_attr_f(n, "beta"));
	base = cg_iadd(f, cg_iadd(f, base, cg_imul(f, ivs[1], dims[2])),
		       ivs[2]);
	v = LLVMBuildFDiv(f->b, cg_load_f64(f, 0, base), cg_intrin(f, "pow", ct,
		2, p), "");
	store64(f, base, v);
	cg_nest_end(f, 3, lo);
	return true;
}

bool
cg_lower_norm(cg_fn *f)
{
	if (!ir_dtype_is_float(f->n->in[0]->dtype))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(f->n->in[0]->dtype));
	if (f->n->op == OP_BatchNormalization &&
	    ir_attr_i(f->n, "training_mode") != 0)
		return cg_fail(f, "training_mode=1 is not supported");
	switch (f->n->op) {
	case OP_BatchNormalization: return lower_batchnorm(f);
	case OP_LayerNormalization: return lower_layernorm(f);
	case OP_LRN: return lower_lrn(f);
	default: return lower_group(f);
	}
}
