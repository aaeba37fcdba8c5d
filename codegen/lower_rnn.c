/* Lowering of LSTM, GRU and RNN (ir/op_rnn.c defines them). Per
 * direction: one product for the input projections of the whole
 * sequence, then a run-time loop over the time steps, each one product
 * of the hidden state with the recurrent weights followed by the gate
 * arithmetic. A product is the register-blocked dense one (gemm_kernel.c)
 * over packed weights, or, for a pruned W or R, the sparse FC kernel
 * over its non-zeros (lower_sparse_fc.c), as cg_sparse_choose says for
 * that weight. W and R must be constants; everything else (B, P,
 * initial states, sequence_lens) may be computed or given at run time. */

#include "sparse.h"

/* Scratch layout, in floats: xw [T*B][G*H] (projections), h and c
 * [B][H] (states), rec [B][G*H] (recurrence), and for GRU z, rh, rec2
 * [B][H] each (the reset gate applied before the last product). */
typedef struct rnn_lay {
	ir_rnn r;
	int64_t xw, h, c, rec, z, rh, rec2, total;
} rnn_lay;

static void
layout(const ir_node *n, rnn_lay *l)
{
	ir_rnn *r = &l->r;
	int64_t gh;

	ir_rnn_get(n, r, NULL);
	gh = r->gates * r->h;
	l->xw = 0;
	l->h = l->xw + r->t * r->b * gh;
	l->c = l->h + r->b * r->h;
	l->rec = l->c + r->b * r->h;
	l->z = l->rec + r->b * gh;
	l->rh = l->z + r->b * r->h;
	l->rec2 = l->rh + r->b * r->h;
	l->total = l->rec2 + r->b * r->h;
}

int64_t
cg_rnn_scratch_bytes(const ir_node *n)
{
	rnn_lay l;

	if (ir_ops[n->op].kind != IR_KIND_RNN)
		return 0;
	layout(n, &l);
	return l.total * (int64_t)sizeof(float);
}

/* Columns of the per-step recurrent product: every gate's, but for a
 * GRU without linear_before_reset only z and r (its h gate multiplies
 * r * h, known only after them). */
static int64_t
rec_cols(const ir_rnn *r)
{
	return r->gates == 3 && !r->lbr ? 2 * r->h : r->gates * r->h;
}

/* The state of one direction's lowering. */
typedef struct rnn_cg {
	cg_fn *f;
	const rnn_lay *l;
	int dir;
	cg_kernel kw, kr;  /* W's and R's kernels (cg_sparse_choose) */
	LLVMValueRef s;    /* i64: the time step */
	LLVMValueRef sc;   /* float* scratch */
} rnn_cg;

static LLVMValueRef
fc(cg_fn *f, double v)
{
	return cg_fconst(f, IR_F32, v);
}

static LLVMValueRef
vadd(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFAdd(f->b, a, b, "");
}

static LLVMValueRef
vmul(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFMul(f->b, a, b, "");
}

static LLVMValueRef
sigmoid(cg_fn *f, LLVMValueRef x)
{
	LLVMValueRef e = LLVMBuildFNeg(f->b, x, "");

	e = cg_intrin(f, "exp", IR_F32, 1, &e);
	return LLVMBuildFDiv(f->b, fc(f, 1), vadd(f, fc(f, 1), e), "");
}

static LLVMValueRef
select_lt0(cg_fn *f, LLVMValueRef x, LLVMValueRef neg)
{
	return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLT, x,
		fc(f, 0), ""), neg, x, "");
}

/* a(x) with the semantics of ir_rnn_apply. */
static LLVMValueRef
act(cg_fn *f, const ir_rnn_act *a, LLVMValueRef x)
{
	LLVMValueRef t;

	switch (a->fn) {
	case IR_RNN_RELU: return cg_max(f, IR_F32, x, fc(f, 0));
	case IR_RNN_TANH: return cg_libm(f, "tanh", IR_F32, x);
	case IR_RNN_SIGMOID: return sigmoid(f, x);
	case IR_RNN_AFFINE:
		return vadd(f, vmul(f, x, fc(f, a->alpha)), fc(f, a->beta));
	case IR_RNN_LEAKYRELU:
		return select_lt0(f, x, vmul(f, x, fc(f, a->alpha)));
	case IR_RNN_THRESHOLDEDRELU:
		return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOGT,
			x, fc(f, a->alpha), ""), x, fc(f, 0), "");
	case IR_RNN_SCALEDTANH:
		t = cg_libm(f, "tanh", IR_F32, vmul(f, x, fc(f, a->beta)));
		return vmul(f, t, fc(f, a->alpha));
	case IR_RNN_HARDSIGMOID:
		t = vadd(f, vmul(f, x, fc(f, a->alpha)), fc(f, a->beta));
		return cg_min(f, IR_F32, cg_max(f, IR_F32, t, fc(f, 0)),
			      fc(f, 1));
	case IR_RNN_ELU:
		t = vmul(f, cg_libm(f, "expm1", IR_F32, x), fc(f, a->alpha));
		return select_lt0(f, x, t);
	case IR_RNN_SOFTSIGN:
		return LLVMBuildFDiv(f->b, x, vadd(f, fc(f, 1),
			cg_intrin(f, "fabs", IR_F32, 1, &x)), "");
	case IR_RNN_SOFTPLUS:
		t = cg_intrin(f, "fabs", IR_F32, 1, &x);
		t = LLVMBuildFNeg(f->b, t, "");
		t = cg_libm(f, "log1p", IR_F32, cg_intrin(f, "exp", IR_F32, 1,
							  &t));
		return vadd(f, cg_max(f, IR_F32, x, fc(f, 0)), t);
	}
	nn_unreachable();
}

/* Activation k (f, g, h) of the direction, clipped first (f and g). */
static LLVMValueRef
gate(rnn_cg *q, int k, LLVMValueRef x)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;

	if (r->has_clip && k < 2)
		x = cg_min(f, IR_F32, cg_max(f, IR_F32, x, fc(f, -r->clip)),
			   fc(f, r->clip));
	return act(f, &r->act[q->dir][k], x);
}

static LLVMValueRef
sload(rnn_cg *q, int64_t base, LLVMValueRef idx)
{
	return cg_load(q->f, q->sc, cg_iadd(q->f, cg_i64(q->f, base), idx));
}

static void
sstore(rnn_cg *q, int64_t base, LLVMValueRef idx, LLVMValueRef v)
{
	cg_store(q->f, q->sc, cg_iadd(q->f, cg_i64(q->f, base), idx), v);
}

/* Element e of input k, or 0 when the input is omitted. */
static LLVMValueRef
in_or0(rnn_cg *q, int k, LLVMValueRef e)
{
	cg_fn *f = q->f;

	if (k >= f->n->nin || !f->n->in[k])
		return fc(f, 0);
	return cg_load(f, f->in[k], e);
}

/* Wb + Rb of gate k at column j (0 without B); which > 0: Rb alone,
 * which < 0: Wb alone. */
static LLVMValueRef
bias(rnn_cg *q, int k, LLVMValueRef j, int which)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;
	int64_t gh = r->gates * r->h, base = q->dir * 2 * gh + k * r->h;
	LLVMValueRef wb = in_or0(q, IR_RNN_IN_B, cg_iadd(f, cg_i64(f, base),
							  j));
	LLVMValueRef rb = in_or0(q, IR_RNN_IN_B, cg_iadd(f, cg_i64(f,
		base + gh), j));

	return which > 0 ? rb : which < 0 ? wb : vadd(f, wb, rb);
}

/* C = A (m x k, row stride k, at element a0 of a) times the transpose
 * of a constant w (n x k, as ONNX stores W and R), into c (m x n, row
 * stride n, at element c0). */
static void
product(cg_fn *f, LLVMValueRef a, LLVMValueRef a0, int64_t m, int64_t k,
	const float *w, int64_t n, LLVMValueRef c, LLVMValueRef c0)
{
	cg_gemm g = {0};

	g.m = m, g.n = n, g.k = k;
	cg_gemm_tile(f->c, m, n, &g.mr, &g.nv);
	g.a = a, g.a0 = a0, g.sam = k, g.sak = 1, g.amb = g.mr * k;
	g.sbk = (int64_t)g.nv * f->c->vl;
	g.bnb = k * g.sbk;
	g.sbkt = n % g.sbk;
	g.b = cg_pack_b(f, w, k, n, true, g.sbk);
	g.b0 = g.bias0 = cg_i64(f, 0);
	g.c = c, g.c0 = c0, g.scm = n;
	g.alpha = g.beta = 1.0;
	cg_gemm_emit(f, &g);
}

static bool
sparse(cg_kernel k)
{
	return k == CG_KERNEL_UNROLLED || k == CG_KERNEL_TABLE;
}

/* c (at c0) = a (m x k, at a0) times the transpose of rows [r0, r0 + nr)
 * of weight input slot's direction q->dir (nr x k), with the kernel the
 * weight has. */
static void
mat(rnn_cg *q, int slot, int64_t r0, int64_t nr, LLVMValueRef a,
    LLVMValueRef a0, int64_t m, LLVMValueRef c, LLVMValueRef c0)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;
	int64_t k = slot == IR_RNN_IN_W ? r->i : r->h;
	cg_kernel kind = slot == IR_RNN_IN_W ? q->kw : q->kr;
	const float *w = f->n->in[slot]->data;
	sp_layer L;

	if (sparse(kind)) {
		NN_ASSERT(sp_describe_rnn(f->n, slot, q->dir, r0, nr, &L));
		sp_fc_product(f, &L, kind, cg_gep(f, a, a0), cg_gep(f, c, c0));
		return;
	}
	product(f, a, a0, m, k, w + (q->dir * r->gates * r->h + r0) * k, nr,
		c, c0);
}

/* Row of X and of Y for batch b at time tt. */
static LLVMValueRef
x_row(rnn_cg *q, LLVMValueRef b, LLVMValueRef tt)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;

	return r->batch_first ? cg_iadd(f, cg_imul(f, b, r->t), tt)
			      : cg_iadd(f, cg_imul(f, tt, r->b), b);
}

static LLVMValueRef
y_at(rnn_cg *q, LLVMValueRef b, LLVMValueRef tt, LLVMValueRef j)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;
	LLVMValueRef row = r->batch_first
		? cg_iadd(f, cg_imul(f, cg_iadd(f, cg_imul(f, b, r->t), tt),
				     r->dirs), cg_i64(f, q->dir))
		: cg_iadd(f, cg_imul(f, cg_iadd(f, cg_imul(f, tt, r->dirs),
				       cg_i64(f, q->dir)), r->b), b);
	return cg_iadd(f, cg_imul(f, row, r->h), j);
}

/* Element j of batch b's state in initial_h/initial_c and Y_h/Y_c. */
static LLVMValueRef
state_at(rnn_cg *q, LLVMValueRef b, LLVMValueRef j)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;
	LLVMValueRef row = r->batch_first
		? cg_iadd(f, cg_imul(f, b, r->dirs), cg_i64(f, q->dir))
		: cg_iadd(f, cg_i64(f, q->dir * r->b), b);
	return cg_iadd(f, cg_imul(f, row, r->h), j);
}

/* Batch b's sequence length (T without sequence_lens); one outside
 * [0, T] is CG_ERR_INDEX and runs as T. */
static LLVMValueRef
seq_len(rnn_cg *q, LLVMValueRef b)
{
	cg_fn *f = q->f;
	const ir_node *n = f->n;
	int64_t t = q->l->r.t;
	LLVMValueRef len, bad;

	if (n->nin <= IR_RNN_IN_LENS || !n->in[IR_RNN_IN_LENS])
		return cg_i64(f, t);
	len = cg_convert(f, cg_load(f, f->in[IR_RNN_IN_LENS], b),
			 n->in[IR_RNN_IN_LENS]->dtype, IR_I64);
	bad = LLVMBuildOr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, len,
		cg_i64(f, 0), ""), LLVMBuildICmp(f->b, LLVMIntSGT, len,
		cg_i64(f, t), ""), "");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	return LLVMBuildSelect(f->b, bad, cg_i64(f, t), len, "");
}

/* Where one batch row steps: its time index and the loop over the
 * hidden units (empty once the row's sequence has ended). */
typedef struct rnn_row {
	LLVMValueRef b, tt, xr, j;
	cg_loop lb, lj;
} rnn_row;

static void
row_begin(rnn_cg *q, rnn_row *w)
{
	const ir_rnn *r = &q->l->r;
	cg_fn *f = q->f;
	LLVMValueRef len, on, back;

	w->b = cg_loop_begin(f, r->b, &w->lb);
	len = seq_len(q, w->b);
	on = LLVMBuildICmp(f->b, LLVMIntSLT, q->s, len, "");
	back = LLVMBuildSub(f->b, LLVMBuildSub(f->b, len, cg_i64(f, 1), ""),
			    q->s, "");
	w->tt = ir_rnn_backward(r, q->dir) ? back : q->s;
	w->xr = cg_imul(f, x_row(q, w->b, w->tt), r->gates * r->h);
	w->j = cg_loop_begin_dyn(f, cg_i64(f, 0), LLVMBuildSelect(f->b, on,
		cg_i64(f, r->h), cg_i64(f, 0), ""), &w->lj);
}

static void
row_end(rnn_cg *q, rnn_row *w)
{
	cg_loop_end_dyn(q->f, &w->lj);
	cg_loop_end(q->f, &w->lb);
}

/* Gate k's pre-activation: projection + recurrence + biases. */
static LLVMValueRef
pre(rnn_cg *q, const rnn_row *w, int k)
{
	const rnn_lay *l = q->l;
	cg_fn *f = q->f;
	int64_t gh = rec_cols(&l->r);
	LLVMValueRef col = cg_iadd(f, cg_i64(f, k * l->r.h), w->j);
	LLVMValueRef x = sload(q, l->xw, cg_iadd(f, w->xr, col));

	x = vadd(f, x, sload(q, l->rec, cg_iadd(f, cg_imul(f, w->b, gh), col)));
	return vadd(f, x, bias(q, k, w->j, 0));
}

static void
store_y(rnn_cg *q, const rnn_row *w, LLVMValueRef h)
{
	cg_fn *f = q->f;

	if (f->n->nout > 0 && f->n->out[0])
		cg_store(f, f->out[0], y_at(q, w->b, w->tt, w->j), h);
}

static LLVMValueRef
peep(rnn_cg *q, int k, LLVMValueRef j, LLVMValueRef c)
{
	cg_fn *f = q->f;
	int64_t base = q->dir * 3 * q->l->r.h + k * q->l->r.h;

	if (f->n->nin <= IR_RNN_IN_P || !f->n->in[IR_RNN_IN_P])
		return fc(f, 0);
	return vmul(f, in_or0(q, IR_RNN_IN_P, cg_iadd(f, cg_i64(f, base), j)),
		    c);
}

static void
lstm_step(rnn_cg *q)
{
	const rnn_lay *l = q->l;
	cg_fn *f = q->f;
	rnn_row w;
	LLVMValueRef hc, c, gi, gf, gc, go;

	row_begin(q, &w);
	hc = cg_iadd(f, cg_imul(f, w.b, l->r.h), w.j);
	c = sload(q, l->c, hc);
	gi = gate(q, 0, vadd(f, pre(q, &w, 0), peep(q, 0, w.j, c)));
	gf = l->r.input_forget ? LLVMBuildFSub(f->b, fc(f, 1), gi, "")
	     : gate(q, 0, vadd(f, pre(q, &w, 2), peep(q, 2, w.j, c)));
	gc = gate(q, 1, pre(q, &w, 3));
	c = vadd(f, vmul(f, gf, c), vmul(f, gi, gc));
	sstore(q, l->c, hc, c);
	go = gate(q, 0, vadd(f, pre(q, &w, 1), peep(q, 1, w.j, c)));
	c = vmul(f, go, act(f, &l->r.act[q->dir][2], c));
	sstore(q, l->h, hc, c);
	store_y(q, &w, c);
	row_end(q, &w);
}

static void
rnn_step(rnn_cg *q)
{
	const rnn_lay *l = q->l;
	cg_fn *f = q->f;
	rnn_row w;
	LLVMValueRef hc, h;

	row_begin(q, &w);
	hc = cg_iadd(f, cg_imul(f, w.b, l->r.h), w.j);
	h = gate(q, 0, pre(q, &w, 0));
	sstore(q, l->h, hc, h);
	store_y(q, &w, h);
	row_end(q, &w);
}

/* GRU: z and r first (with r * h, or r * (hRh + Rbh) when
 * linear_before_reset), then without linear_before_reset the product of
 * r * h with Rh, then the new gate and state. */
static void
gru_step(rnn_cg *q)
{
	const rnn_lay *l = q->l;
	cg_fn *f = q->f;
	int64_t hs = l->r.h;
	rnn_row w;
	LLVMValueRef hc, z, r, x, h;

	row_begin(q, &w);
	hc = cg_iadd(f, cg_imul(f, w.b, hs), w.j);
	sstore(q, l->z, hc, gate(q, 0, pre(q, &w, 0)));
	r = gate(q, 0, pre(q, &w, 1));
	if (l->r.lbr)
		x = vadd(f, sload(q, l->rec, cg_iadd(f, cg_imul(f, w.b, 3 * hs),
			cg_iadd(f, cg_i64(f, 2 * hs), w.j))),
			bias(q, 2, w.j, 1));
	else
		x = sload(q, l->h, hc);
	sstore(q, l->rh, hc, vmul(f, r, x));
	row_end(q, &w);
	if (!l->r.lbr)
		mat(q, IR_RNN_IN_R, 2 * hs, hs, q->sc, cg_i64(f, l->rh), l->r.b,
		    q->sc, cg_i64(f, l->rec2));
	row_begin(q, &w);
	hc = cg_iadd(f, cg_imul(f, w.b, hs), w.j);
	x = vadd(f, sload(q, l->xw, cg_iadd(f, w.xr, cg_iadd(f,
		cg_i64(f, 2 * hs), w.j))), bias(q, 2, w.j, -1));
	if (l->r.lbr)
		x = vadd(f, x, sload(q, l->rh, hc));
	else
		x = vadd(f, x, vadd(f, sload(q, l->rec2, hc),
				    bias(q, 2, w.j, 1)));
	h = gate(q, 1, x);
	z = sload(q, l->z, hc);
	h = vadd(f, vmul(f, LLVMBuildFSub(f->b, fc(f, 1), z, ""), h),
		 vmul(f, z, sload(q, l->h, hc)));
	sstore(q, l->h, hc, h);
	store_y(q, &w, h);
	row_end(q, &w);
}

/* States from initial_h/initial_c (or 0) into scratch (in), or from
 * scratch into Y_h/Y_c (out). */
static void
states(rnn_cg *q, bool out)
{
	const rnn_lay *l = q->l;
	cg_fn *f = q->f;
	const ir_node *n = f->n;
	int64_t dims[2] = {l->r.b, l->r.h};
	LLVMValueRef iv[2], hc, st;
	cg_loop lp[2];

	cg_nest_begin(f, 2, dims, iv, lp);
	hc = cg_iadd(f, cg_imul(f, iv[0], l->r.h), iv[1]);
	st = state_at(q, iv[0], iv[1]);
	for (int k = 0; k < 2; k++) {
		int64_t base = k ? l->c : l->h;
		if (out && k + 1 < n->nout && n->out[k + 1])
			cg_store(f, f->out[k + 1], st, sload(q, base, hc));
		else if (!out)
			sstore(q, base, hc, in_or0(q, IR_RNN_IN_H0 + k, st));
	}
	cg_nest_end(f, 2, lp);
}

static void
direction(cg_fn *f, const rnn_lay *l, int dir)
{
	const ir_rnn *r = &l->r;
	rnn_cg q = {f, l, dir, CG_KERNEL_DENSE, CG_KERNEL_DENSE, NULL, NULL};
	cg_loop ls;

	q.kw = cg_sparse_choose(f->n, IR_RNN_IN_W, f->c->o, NULL);
	q.kr = cg_sparse_choose(f->n, IR_RNN_IN_R, f->c->o, NULL);
	q.sc = LLVMBuildBitCast(f->b, f->scratch, LLVMPointerType(f->c->f32,
		0), "");
	mat(&q, IR_RNN_IN_W, 0, r->gates * r->h, f->in[IR_RNN_IN_X],
	    cg_i64(f, 0), r->t * r->b, q.sc, cg_i64(f, l->xw));
	states(&q, false);
	q.s = cg_loop_begin(f, r->t, &ls);
	mat(&q, IR_RNN_IN_R, 0, rec_cols(r), q.sc, cg_i64(f, l->h), r->b,
	    q.sc, cg_i64(f, l->rec));
	if (r->gates == 4)
		lstm_step(&q);
	else if (r->gates == 3)
		gru_step(&q);
	else
		rnn_step(&q);
	cg_loop_end_nounroll(f, &ls);
	states(&q, true);
}

bool
cg_lower_rnn(cg_fn *f)
{
	const ir_node *n = f->n;
	rnn_lay l;

	if (n->in[0]->dtype != IR_F32)
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(n->in[0]->dtype));
	if (!n->in[IR_RNN_IN_W]->data || !n->in[IR_RNN_IN_R]->data)
		return cg_fail(f, "W and R must be constants (initializers) "
			       "for code generation");
	layout(n, &l);
	if (n->nout > 0 && n->out[0] && n->nin > IR_RNN_IN_LENS &&
	    n->in[IR_RNN_IN_LENS])
		LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, f->out[0],
			f->c->ptr, ""), LLVMConstInt(f->c->i8, 0, 0),
			cg_i64(f, ir_shape_numel(&n->out[0]->shape) * 4), 4);
	for (int dir = 0; dir < l.r.dirs; dir++)
		direction(f, &l, dir);
	return true;
}
