/* Lowering of Gemm and MatMul. A constant 2-D right operand (the weights)
 * is packed at compile time into column tiles for the register-blocked
 * kernel of gemm_kernel.c (at batch 1, a weight stream with nv vector
 * accumulators); anything else gets an i-k-j loop nest whose innermost
 * loop runs over contiguous output columns. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

typedef struct mm {
	int64_t m, n, k;
	int64_t sa_i, sa_k, sb_k, sb_j; /* element strides */
	LLVMValueRef a, b, y, c;        /* c: Gemm bias or NULL */
	int64_t sc_i, sc_j;
	double alpha, beta;
	ir_dtype t;
} mm;

/* One matrix product at element offsets a0, b0, y0. */
static void
mm_core(cg_fn *f, const mm *p, LLVMValueRef a0, LLVMValueRef b0,
	LLVMValueRef y0)
{
	cg_loop li, lj, lk;
	LLVMValueRef i, j, k, yrow, av, bv, yv, acc;
	ir_dtype t = p->t;

	i = cg_loop_begin(f, p->m, &li);
	yrow = LLVMBuildNSWAdd(f->b, y0, LLVMBuildNSWMul(f->b, i,
		cg_i64(f, p->n), ""), "");
	j = cg_loop_begin(f, p->n, &lj);
	yv = cg_const(f, t, 0);
	if (p->c) {
		LLVMValueRef ci = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, i,
			cg_i64(f, p->sc_i), ""), LLVMBuildNSWMul(f->b, j,
			cg_i64(f, p->sc_j), ""), "");
		yv = cg_mul(f, t, cg_load(f, p->c, ci), cg_const(f, t,
							       p->beta));
	}
	cg_store(f, p->y, LLVMBuildNSWAdd(f->b, yrow, j, ""), yv);
	cg_loop_end(f, &lj);
	k = cg_loop_begin(f, p->k, &lk);
	av = cg_load(f, p->a, LLVMBuildNSWAdd(f->b, a0, LLVMBuildNSWAdd(f->b,
		LLVMBuildNSWMul(f->b, i, cg_i64(f, p->sa_i), ""),
		LLVMBuildNSWMul(f->b, k, cg_i64(f, p->sa_k), ""), ""), ""));
	if (p->alpha != 1.0)
		av = cg_mul(f, t, av, cg_const(f, t, p->alpha));
	j = cg_loop_begin(f, p->n, &lj);
	bv = cg_load(f, p->b, LLVMBuildNSWAdd(f->b, b0, LLVMBuildNSWAdd(f->b,
		LLVMBuildNSWMul(f->b, k, cg_i64(f, p->sb_k), ""),
		LLVMBuildNSWMul(f->b, j, cg_i64(f, p->sb_j), ""), ""), ""));
	yv = cg_load(f, p->y, LLVMBuildNSWAdd(f->b, yrow, j, ""));
	acc = cg_add(f, t, yv, cg_mul(f, t, av, bv));
	cg_store(f, p->y, LLVMBuildNSWAdd(f->b, yrow, j, ""), acc);
	cg_loop_end(f, &lj);
	cg_loop_end(f, &lk);
	cg_loop_end(f, &li);
}

/* A constant [r,c] matrix transposed into a new global. */
static LLVMValueRef
transposed(cg_fn *f, const ir_value *w, int64_t r, int64_t c)
{
	size_t es = ir_dtype_size(w->dtype);
	char *d = nn_xmalloc((size_t)(r * c) * es + 1);
	LLVMValueRef g;

	for (int64_t i = 0; i < r; i++)
		for (int64_t j = 0; j < c; j++)
			memcpy(d + (size_t)(j * r + i) * es,
			       (const char *)w->data + (size_t)(i * c + j) * es,
			       es);
	g = cg_const_global(f->c, "wT", d, (size_t)(r * c) * es);
	free(d);
	return LLVMBuildBitCast(f->b, g, LLVMPointerType(cg_type(f->c,
		w->dtype), 0), "");
}

static bool
lower_gemm(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *as = &n->in[0]->shape, *bs = &n->in[1]->shape;
	bool ta = ir_attr_i(n, "transA"), tb = ir_attr_i(n, "transB");
	mm p = {0};

	p.t = n->out[0]->dtype;
	p.m = ta ? as->dim[1] : as->dim[0];
	p.k = ta ? as->dim[0] : as->dim[1];
	p.n = tb ? bs->dim[0] : bs->dim[1];
	p.sa_i = ta ? 1 : p.k;
	p.sa_k = ta ? p.m : 1;
	p.sb_k = tb ? 1 : p.n;
	p.sb_j = tb ? p.k : 1;
	p.a = f->in[0];
	p.b = f->in[1];
	p.y = f->out[0];
	p.alpha = ir_attr_f(n, "alpha");
	p.beta = ir_attr_f(n, "beta");
	if (tb && n->in[1]->data) {
		p.b = transposed(f, n->in[1], p.n, p.k);
		p.sb_k = p.n;
		p.sb_j = 1;
	}
	if (n->nin > 2 && n->in[2] && p.beta != 0.0) {
		ir_shape ys = {2, {p.m, p.n}};
		int64_t st[IR_MAX_RANK];
		cg_bcast_strides(&n->in[2]->shape, &ys, st);
		p.c = f->in[2];
		p.sc_i = st[0];
		p.sc_j = st[1];
	}
	if (p.k == 0)
		return cg_fail(f, "empty inner dimension is not supported");
	mm_core(f, &p, cg_i64(f, 0), cg_i64(f, 0), cg_i64(f, 0));
	return true;
}

/* Broadcast strides of the batch dims of a matrix operand. */
static void
batch_strides(const ir_shape *s, int mat, const ir_shape *ob, int64_t msz,
	      int64_t *st)
{
	ir_shape b = {0, {0}};

	b.rank = s->rank > mat ? s->rank - mat : 0;
	if (mat == 1)
		b.rank = 0;
	memcpy(b.dim, s->dim, sizeof(int64_t) * (size_t)b.rank);
	cg_bcast_strides(&b, ob, st);
	for (int k = 0; k < ob->rank; k++)
		st[k] *= msz;
}

static bool
lower_matmul(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *as = &n->in[0]->shape, *bs = &n->in[1]->shape;
	int ar = as->rank, br = bs->rank;
	ir_shape ob = {0, {0}};
	int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], so[IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK];
	cg_loop loops[IR_MAX_RANK];
	mm p = {0};

	p.t = n->out[0]->dtype;
	p.m = ar >= 2 ? as->dim[ar - 2] : 1;
	p.k = as->dim[ar - 1];
	p.n = br >= 2 ? bs->dim[br - 1] : 1;
	p.sa_i = p.k, p.sa_k = 1, p.sb_k = p.n, p.sb_j = 1;
	p.alpha = 1.0;
	p.a = f->in[0], p.b = f->in[1], p.y = f->out[0];
	ob.rank = n->out[0]->shape.rank - (ar >= 2) - (br >= 2);
	memcpy(ob.dim, n->out[0]->shape.dim, sizeof(int64_t) * (size_t)ob.rank);
	batch_strides(as, ar >= 2 ? 2 : 1, &ob, p.m * p.k, sa);
	batch_strides(bs, br >= 2 ? 2 : 1, &ob, p.k * p.n, sb);
	cg_strides(&ob, so);
	for (int k = 0; k < ob.rank; k++)
		so[k] *= p.m * p.n;
	if (p.k == 0)
		return cg_fail(f, "empty inner dimension is not supported");
	cg_nest_begin(f, ob.rank, ob.dim, ivs, loops);
	mm_core(f, &p, cg_linear(f, ob.rank, ivs, sa, 0),
		cg_linear(f, ob.rank, ivs, sb, 0),
		cg_linear(f, ob.rank, ivs, so, 0));
	cg_nest_end(f, ob.rank, loops);
	return true;
}

LLVMValueRef
cg_pack_b(cg_fn *f, const float *w, int64_t k, int64_t n, bool tb, int64_t nw)
{
	int64_t nt = (n + nw - 1) / nw;
	size_t bytes = (size_t)(n * k) * sizeof(float);
	float *d;
	LLVMValueRef g;

	if (!tb && n < nw && w == f->n->in[1]->data) /* W as it is */
		return f->in[1];
	d = nn_xcalloc(1, bytes + 1);
	for (int64_t t = 0; t < nt; t++) {
		int64_t w0 = t * nw, tw = n - w0 < nw ? n - w0 : nw;
		for (int64_t kk = 0; kk < k; kk++)
			for (int64_t j = w0; j < w0 + tw; j++)
				d[w0 * k + kk * tw + j - w0] =
					tb ? w[j * k + kk] : w[kk * n + j];
	}
	g = cg_const_global(f->c, "wpack", d, bytes);
	free(d);
	return LLVMBuildBitCast(f->b, g, LLVMPointerType(f->c->f32, 0), "");
}

/* Lossless, at -O2 and up: the rows of W (k x n, or n x k when tb) that
 * are all zero go, and g->kmap lists the k that stay, so the kernel
 * never multiplies the inputs they would meet (select-features drops
 * input features this way; dead_inputs_nan gives the NaN a non-finite
 * one owes every output). Returns the live rows as a k' x n matrix
 * (malloc'd) and sets g->k to k' and *dead to the k - k' dropped rows
 * (malloc'd, *ndead of them), or NULL when every row (or none) is live. */
int64_t
cg_gemm_live_rows(const float *w, bool tb, int64_t k, int64_t n,
		  int64_t *live)
{
	int64_t nl = 0;

	for (int64_t kk = 0; kk < k; kk++) {
		bool any = false;
		for (int64_t j = 0; j < n && !any; j++)
			any = (tb ? w[j * k + kk] : w[kk * n + j]) != 0;
		if (any && live)
			live[nl] = kk;
		nl += any;
	}
	return nl;
}

static float *
live_rows(cg_fn *f, const float *w, bool tb, cg_gemm *g, int64_t **dead,
	  int64_t *ndead)
{
	int64_t k = g->k, n = g->n;
	int64_t *live = nn_xmalloc((size_t)k * sizeof *live + 1);
	int64_t nl = cg_gemm_live_rows(w, tb, k, n, live);
	float *d = NULL;
	*dead = NULL, *ndead = 0;
	if (f->c->o->opt_level >= 2 && nl > 0 && nl < k) {
		*dead = nn_xmalloc((size_t)(k - nl) * sizeof **dead);
		for (int64_t kk = 0, i = 0; kk < k; kk++)
			if (i < nl && live[i] == kk)
				i++;
			else
				(*dead)[(*ndead)++] = kk;
		d = nn_xmalloc((size_t)(nl * n) * sizeof *d);
		for (int64_t i = 0; i < nl; i++)
			for (int64_t j = 0; j < n; j++)
				d[i * n + j] = tb ? w[j * k + live[i]]
						  : w[live[i] * n + j];
		g->kmap = cg_i64_table(f, live, nl);
		g->k = nl;
	}
	free(live);
	return d;
}

/* Row i of the output is NaN when a dropped input of batch row i is NaN
 * or Inf (0 * Inf = NaN in the dense product): one pass over the dropped
 * inputs, a select per output. */
static void
dead_inputs_nan(cg_fn *f, const cg_gemm *g, const int64_t *dead,
		int64_t ndead)
{
	LLVMValueRef t = cg_i64_table(f, dead, ndead), any, i, j, a, yi;
	cg_loop li, lj;

	any = cg_alloca(f, f->c->i32);
	i = cg_loop_begin(f, g->m, &li);
	LLVMBuildStore(f->b, LLVMConstInt(f->c->i32, 0, 0), any);
	j = cg_loop_begin(f, ndead, &lj);
	a = cg_load(f, g->a, LLVMBuildAdd(f->b, LLVMBuildMul(f->b, i,
		cg_i64(f, g->sam), ""), LLVMBuildMul(f->b, cg_load(f, t, j),
		cg_i64(f, g->sak), ""), ""));
	LLVMBuildStore(f->b, LLVMBuildOr(f->b, LLVMBuildLoad2(f->b, f->c->i32,
		any, ""), LLVMBuildZExt(f->b, LLVMBuildFCmp(f->b, LLVMRealUEQ,
		cg_intrin(f, "fabs", IR_F32, 1, &a), cg_fconst(f, IR_F32,
		INFINITY), ""), f->c->i32, ""), ""), any);
	cg_loop_end(f, &lj);
	a = LLVMBuildICmp(f->b, LLVMIntNE, LLVMBuildLoad2(f->b, f->c->i32, any,
		""), LLVMConstInt(f->c->i32, 0, 0), "");
	j = cg_loop_begin(f, g->n, &lj);
	yi = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, i, cg_i64(f, g->scm), ""), j,
			  "");
	cg_store(f, g->c, yi, LLVMBuildSelect(f->b, a, cg_fconst(f, IR_F32,
		NAN), cg_load(f, g->c, yi), ""));
	cg_loop_end(f, &lj);
	cg_loop_end(f, &li);
}

/* Shared W: its codes in pack_b's order, the last tile padded to whole
 * vectors (so that every vector starts on a byte of the bitstream). */
static void
pack_codes(cg_fn *f, const ir_value *w, bool tb, cg_gemm *g)
{
	int64_t k = g->k, n = g->n, nw = g->sbk, nt = n / nw, vl = f->c->vl;
	int64_t tail = (n % nw + vl - 1) / vl * vl;
	int64_t total = nt * k * nw + k * tail;
	uint8_t *d = nn_xcalloc(1, (size_t)total + 1);

	for (int64_t j = 0; j < n; j++) {
		int64_t t = j / nw, tw = t < nt ? nw : tail;
		for (int64_t kk = 0; kk < k; kk++)
			d[t * k * nw + kk * tw + j % nw] =
				w->codes[tb ? j * k + kk : kk * n + j];
	}
	g->bbits = ir_code_bits(w->ncodes);
	g->bncodes = w->ncodes;
	g->b = cg_code_table(f, d, total, g->bbits);
	g->bcb = cg_codebook(f, w);
	g->sbkt = tail;
	g->bpad = true;
	free(d);
}

/* The fused epilogue of f->fused (if any) goes into the kernel when it
 * can; false leaves it to cg_lower_fused_epilogue. */
static void
fuse_epilogue(cg_fn *f, cg_gemm *g)
{
	const ir_node *fn = f->fused;

	if (!fn || !cg_gemm_act(fn, &g->act, &g->lo, &g->hi))
		return;
	if (fn->nin > 3 && fn->in[3]) {
		g->res = f->in[3]; /* f->in holds every input of fn */
		g->res0 = cg_i64(f, 0);
	}
	f->epi_done = true;
}

/* The product as (m, k) x constant (k, n); false when it does not fit
 * the blocked kernel. */
static bool
fast_gemm(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_value *w = n->in[1];
	const ir_shape *as = &n->in[0]->shape, *bs = &w->shape;
	bool gemm = n->op == OP_Gemm, ta = false, tb = false;
	cg_gemm g = {0};
	int64_t *dead = NULL, ndead = 0;

	if (n->out[0]->dtype != IR_F32 || !w->data || bs->rank != 2 ||
	    (!gemm && as->rank < 1))
		return false;
	if (gemm) {
		ta = ir_attr_i(n, "transA");
		tb = ir_attr_i(n, "transB");
		g.alpha = ir_attr_f(n, "alpha");
		g.beta = ir_attr_f(n, "beta");
		g.m = ta ? as->dim[1] : as->dim[0];
		g.k = ta ? as->dim[0] : as->dim[1];
	} else {
		g.alpha = g.beta = 1.0;
		g.k = as->dim[as->rank - 1];
		g.m = ir_shape_numel(as) / (g.k ? g.k : 1);
	}
	g.n = tb ? bs->dim[0] : bs->dim[1];
	if (g.k == 0 || g.m == 0 || g.n == 0)
		return false;
	cg_gemm_tile(f->c, g.m, g.n, &g.mr, &g.nv);
	g.a = f->in[0];
	g.a0 = cg_i64(f, 0);
	g.sam = ta ? 1 : g.k;
	g.sak = ta ? g.m : 1;
	g.amb = g.mr * g.sam;
	g.sbk = (int64_t)g.nv * f->c->vl;
	g.bnb = g.k * g.sbk;
	g.sbkt = g.n % g.sbk;
	if (cg_weight_shared(w)) {
		pack_codes(f, w, tb, &g);
	} else {
		float *live = live_rows(f, w->data, tb, &g, &dead, &ndead);
		g.bnb = g.k * g.sbk;
		g.b = live ? cg_pack_b(f, live, g.k, g.n, false, g.sbk)
			   : cg_pack_b(f, w->data, g.k, g.n, tb, g.sbk);
		free(live);
	}
	g.b0 = g.c0 = g.bias0 = cg_i64(f, 0);
	g.c = f->out[0];
	g.scm = g.n;
	if (gemm && n->nin > 2 && n->in[2] && g.beta != 0.0) {
		ir_shape ys = {2, {g.m, g.n}};
		int64_t st[IR_MAX_RANK];
		cg_bcast_strides(&n->in[2]->shape, &ys, st);
		g.bias = f->in[2];
		g.sbi = st[0];
		g.sbj = st[1];
	}
	fuse_epilogue(f, &g);
	cg_gemm_emit(f, &g);
	if (ndead) { /* a pass over the whole output, outside the units */
		f->tunsplit = true;
		dead_inputs_nan(f, &g, dead, ndead);
	}
	free(dead);
	return true;
}

bool
cg_lower_gemm(cg_fn *f)
{
	ir_dtype t = f->n->out[0]->dtype;

	if (t != IR_F32 && t != IR_F64)
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	if (fast_gemm(f))
		return true;
	return f->n->op == OP_Gemm ? lower_gemm(f) : lower_matmul(f);
}
