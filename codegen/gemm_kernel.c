/* The register-blocked matrix product behind Conv, Gemm and MatMul: tiles
 * of mr rows x nv vectors of C held in registers over the whole k loop,
 * written with explicit LLVM vector types and llvm.fma so that the code
 * does not depend on the auto-vectorizer; the epilogue (bias, residual,
 * activation) is applied before the single store of each tile. */
#include <math.h>

#include <llvm-c/DebugInfo.h>

#include "cg_internal.h"

LLVMTypeRef
cg_vtype(cg_ctx *c)
{
	return LLVMVectorType(c->f32, (unsigned)c->vl);
}

static LLVMValueRef
vintrin(cg_fn *f, const char *fmt, LLVMTypeRef ret, LLVMValueRef *args,
	int nargs)
{
	char name[80];

	snprintf(name, sizeof name, fmt, f->c->vl, f->c->vl);
	return cg_call(f, name, ret, args, nargs);
}

/* The mask of the first nv lanes. */
static LLVMValueRef
lane_mask(cg_fn *f, int nv)
{
	LLVMValueRef bits[64];

	for (int i = 0; i < f->c->vl; i++)
		bits[i] = LLVMConstInt(f->c->i1, i < nv, 0);
	return LLVMConstVector(bits, (unsigned)f->c->vl);
}

static LLVMValueRef
vptr(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx)
{
	return LLVMBuildBitCast(f->b, cg_gep(f, ptr, idx),
				LLVMPointerType(cg_vtype(f->c), 0), "");
}

/* Loads lanes 0..nv-1 of the vector at ptr[idx] (the rest are 0 and not
 * read when nv < vl). */
LLVMValueRef
cg_vload(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, int nv)
{
	LLVMTypeRef vt = cg_vtype(f->c);
	LLVMValueRef p = vptr(f, ptr, idx), args[4], ld;

	if (nv >= f->c->vl) {
		ld = LLVMBuildLoad2(f->b, vt, p, "");
		LLVMSetAlignment(ld, 4);
		return ld;
	}
	args[0] = p;
	args[1] = LLVMConstInt(f->c->i32, 4, 0);
	args[2] = lane_mask(f, nv);
	args[3] = LLVMConstNull(vt);
	return vintrin(f, "llvm.masked.load.v%df32.p0v%df32", vt, args, 4);
}

void
cg_vstore(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, LLVMValueRef v,
	  int nv)
{
	LLVMValueRef p = vptr(f, ptr, idx), args[4], st;

	if (nv >= f->c->vl) {
		st = LLVMBuildStore(f->b, v, p);
		LLVMSetAlignment(st, 4);
		return;
	}
	args[0] = v;
	args[1] = p;
	args[2] = LLVMConstInt(f->c->i32, 4, 0);
	args[3] = lane_mask(f, nv);
	vintrin(f, "llvm.masked.store.v%df32.p0v%df32",
		LLVMVoidTypeInContext(f->c->ctx), args, 4);
}

LLVMValueRef
cg_vsplat(cg_fn *f, LLVMValueRef x)
{
	LLVMTypeRef vt = cg_vtype(f->c);
	LLVMValueRef v = LLVMBuildInsertElement(f->b, LLVMGetUndef(vt), x,
		LLVMConstInt(f->c->i32, 0, 0), "");

	return LLVMBuildShuffleVector(f->b, v, LLVMGetUndef(vt),
		LLVMConstNull(LLVMVectorType(f->c->i32, (unsigned)f->c->vl)),
		"");
}

LLVMValueRef
cg_vfma(cg_fn *f, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMValueRef args[3] = {a, b, c};

	return vintrin(f, "llvm.fma.v%df32", cg_vtype(f->c), args, 3);
}

static LLVMValueRef
vconst(cg_fn *f, double x)
{
	return cg_vsplat(f, LLVMConstReal(f->c->f32, x));
}

/* Same NaN behaviour as the scalar Relu/Clip: a NaN passes through. */
LLVMValueRef
cg_vact(cg_fn *f, LLVMValueRef v, cg_act act, double lo, double hi)
{
	LLVMValueRef m;

	if (act == CG_ACT_NONE)
		return v;
	if (act == CG_ACT_OP)
		return cg_act_apply(f, v);
	if (act == CG_ACT_RELU || lo > -INFINITY) {
		m = vconst(f, act == CG_ACT_RELU ? 0.0 : lo);
		v = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealUGT, v, m,
							""), v, m, "");
	}
	if (act == CG_ACT_CLIP && hi < INFINITY) {
		m = vconst(f, hi);
		v = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealULT, v, m,
							""), v, m, "");
	}
	return v;
}

bool
cg_gemm_act(const ir_node *n, cg_act *act, double *lo, double *hi)
{
	const char *an = ir_attr_str(n, "activation", NULL);
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	ir_op op = an ? ir_op_lookup(an) : IR_NOPS;

	*lo = -INFINITY;
	*hi = INFINITY;
	*act = CG_ACT_NONE;
	if (!an)
		return true;
	/* the VACT rows of ops.def, each with its case here */
	if (op == IR_NOPS || !ir_op_has(op, IR_OPF_VACT))
		return false;
	if (op == OP_Relu) {
		*act = CG_ACT_RELU;
		return true;
	}
	if (op != OP_Clip) {
		*act = CG_ACT_OP; /* unary_op's arithmetic on vectors */
		return true;
	}
	*act = CG_ACT_CLIP;
	if (al)
		*lo = al->f;
	if (be)
		*hi = be->f;
	return true;
}

/* Estimated cycles per k step of a tile: FMAs, or loads at two per cycle,
 * plus the loop overhead. */
static double
tile_cost(int mr, int nv)
{
	double fma = mr * nv, ld = (mr + nv) / 2.0;

	return (fma > ld ? fma : ld) + 1.0;
}

static double
total_cost(int vl, int64_t m, int64_t n, int mr, int nv)
{
	int64_t nw = (int64_t)nv * vl, mb = m / mr, nt = n / nw;
	int mt = (int)(m % mr), ntv = (int)((n % nw + vl - 1) / vl);
	double rows = (double)mb * tile_cost(mr, nv) +
		      (mt ? tile_cost(mt, nv) : 0);
	double tail = ntv ? (double)mb * tile_cost(mr, ntv) +
			    (mt ? tile_cost(mt, ntv) : 0) : 0;

	return rows * (double)nt + tail;
}

void
cg_gemm_tile(const cg_ctx *c, int64_t m, int64_t n, int *mr, int *nv)
{
	double best = -1;

	*mr = 1;
	*nv = 1;
	for (int v = 1; v <= 4; v++)
		for (int r = 1; r <= 12 && r * v + v + 1 <= c->nregs; r++) {
			double t = total_cost(c->vl, m, n, r, v);
			if (r > m && r > 1)
				break;
			if (best < 0 || t < best) {
				best = t;
				*mr = r;
				*nv = v;
			}
		}
}

/* Where one tile sits: block offsets into A and B, its first row and
 * column, its size (mr rows, nv vectors, lanes used in the last one). */
typedef struct tpos {
	LLVMValueRef ablk, bt, i0, j0;
	int mr, nv, lanes;
} tpos;

/* B's vector at element offset off (lanes used: nv). */
static LLVMValueRef
b_vector(cg_fn *f, const cg_gemm *g, LLVMValueRef off, int nv)
{
	int vl = f->c->vl;
	LLVMValueRef idx, v;

	if (!g->bcb)
		return cg_vload(f, g->b, off, nv);
	if (vl * g->bbits % 8 == 0) {
		idx = cg_code_vload(f, g->b, off, vl, g->bbits);
		return cg_code_lookup(f, g->bcb, g->bncodes, idx, vl);
	}
	/* lanes that do not start on a byte (vl 4, odd widths) */
	v = LLVMConstNull(cg_vtype(f->c));
	for (int l = 0; l < vl; l++)
		v = LLVMBuildInsertElement(f->b, v, cg_load(f, g->bcb,
			cg_code_load(f, g->b, cg_iadd(f, off, cg_i64(f, l)),
				     g->bbits)), LLVMConstInt(f->c->i32,
			(unsigned long long)l, 0), "");
	return v;
}

static LLVMValueRef
a_scalar(cg_fn *f, const cg_gemm *g, LLVMValueRef off)
{
	if (!g->acb)
		return cg_load(f, g->a, off);
	return cg_load(f, g->acb, cg_code_load(f, g->a, off, g->abits));
}

/* One k step: acc[i][v] += A(i, k) * B(k, v). */
static void
k_step(cg_fn *f, const cg_gemm *g, const tpos *t, LLVMValueRef k,
       LLVMValueRef *acc)
{
	LLVMValueRef bv[4], brow = cg_iadd(f, t->bt, cg_imul(f, k, g->sbk));
	LLVMValueRef ka = g->kmap ? cg_load(f, g->kmap, k) : k;
	LLVMValueRef arow = cg_iadd(f, t->ablk, cg_imul(f, ka, g->sak));
	int vl = f->c->vl;

	for (int v = 0; v < t->nv; v++)
		bv[v] = b_vector(f, g, cg_iadd(f, brow, cg_i64(f, v * vl)),
				 v == t->nv - 1 && !g->bpad ? t->lanes : vl);
	for (int i = 0; i < t->mr; i++) {
		LLVMValueRef a = cg_vsplat(f, a_scalar(f, g, cg_iadd(f, arow,
			cg_i64(f, i * g->sam))));
		for (int v = 0; v < t->nv; v++)
			acc[i * 4 + v] = cg_vfma(f, a, bv[v], acc[i * 4 + v]);
	}
}

/* Marks the loop whose latch branch is br as not to be unrolled: its body
 * is already a block of independent vector FMAs, and unrolling every
 * kernel of a model multiplies LLVM's work (ResNet-18: 8x the code). */
void
cg_no_unroll(cg_fn *f, LLVMValueRef br)
{
	LLVMContextRef ctx = f->c->ctx;
	LLVMMetadataRef tmp = LLVMTemporaryMDNode(ctx, NULL, 0);
	LLVMMetadataRef s = LLVMMDStringInContext2(ctx,
		"llvm.loop.unroll.disable", 24);
	LLVMMetadataRef ops[2] = {tmp, LLVMMDNodeInContext2(ctx, &s, 1)};
	LLVMMetadataRef loop = LLVMMDNodeInContext2(ctx, ops, 2);

	LLVMMetadataReplaceAllUsesWith(tmp, loop);
	LLVMSetMetadata(br, LLVMGetMDKindIDInContext(ctx, "llvm.loop", 9),
			LLVMMetadataAsValue(ctx, loop));
}

void
cg_loop_end_nounroll(cg_fn *f, cg_loop *l)
{
	LLVMBasicBlockRef latch;

	cg_loop_end(f, l);
	if (!l->body)
		return;
	latch = LLVMGetIncomingBlock(l->iv, 1);
	cg_no_unroll(f, LLVMGetBasicBlockTerminator(latch));
}

/* The k loop with the accumulators as phis (do-while: k >= 1). */
static void
k_loop(cg_fn *f, const cg_gemm *g, const tpos *t, LLVMValueRef *acc)
{
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(f->b), body, latch, exit;
	LLVMValueRef zero = cg_i64(f, 0), k, next, phis[64];
	int na = t->mr * 4;

	for (int i = 0; i < na; i++)
		acc[i] = LLVMConstNull(cg_vtype(f->c));
	if (g->k == 1) {
		k_step(f, g, t, zero, acc);
		return;
	}
	body = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "kloop");
	LLVMBuildBr(f->b, body);
	LLVMPositionBuilderAtEnd(f->b, body);
	k = LLVMBuildPhi(f->b, f->c->i64, "k");
	LLVMAddIncoming(k, &zero, &pre, 1);
	for (int i = 0; i < na; i++) {
		if (i % 4 >= t->nv)
			continue;
		phis[i] = LLVMBuildPhi(f->b, cg_vtype(f->c), "");
		LLVMAddIncoming(phis[i], &acc[i], &pre, 1);
		acc[i] = phis[i];
	}
	k_step(f, g, t, k, acc);
	next = cg_iadd(f, k, cg_i64(f, 1));
	latch = LLVMGetInsertBlock(f->b);
	exit = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "kdone");
	cg_no_unroll(f, LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT,
		next, cg_i64(f, g->k), ""), body, exit));
	LLVMAddIncoming(k, &next, &latch, 1);
	for (int i = 0; i < na; i++)
		if (i % 4 < t->nv)
			LLVMAddIncoming(phis[i], &acc[i], &latch, 1);
	LLVMPositionBuilderAtEnd(f->b, exit);
}

/* bias(i, j..j+vl) for row i (absolute) and column j. */
static LLVMValueRef
bias_vec(cg_fn *f, const cg_gemm *g, LLVMValueRef i, LLVMValueRef j,
	 int lanes)
{
	LLVMValueRef base = cg_iadd(f, g->bias0, cg_imul(f, i, g->sbi)), v;

	if (g->sbj == 0)
		return cg_vsplat(f, cg_load(f, g->bias, base));
	if (g->sbj == 1)
		return cg_vload(f, g->bias, cg_iadd(f, base, j), lanes);
	v = LLVMConstNull(cg_vtype(f->c));
	for (int l = 0; l < lanes; l++) {
		LLVMValueRef jl = cg_iadd(f, j, cg_i64(f, l));
		LLVMValueRef e = cg_load(f, g->bias, cg_iadd(f, base,
			cg_imul(f, jl, g->sbj)));
		v = LLVMBuildInsertElement(f->b, v, e, LLVMConstInt(f->c->i32,
			(unsigned long long)l, 0), "");
	}
	return v;
}

static void
store_tile(cg_fn *f, const cg_gemm *g, const tpos *t, LLVMValueRef *acc)
{
	int vl = f->c->vl;

	for (int i = 0; i < t->mr; i++) {
		LLVMValueRef ri = cg_iadd(f, t->i0, cg_i64(f, i));
		LLVMValueRef crow = cg_iadd(f, cg_imul(f, ri, g->scm), t->j0);
		for (int v = 0; v < t->nv; v++) {
			int ln = v == t->nv - 1 ? t->lanes : vl;
			LLVMValueRef y = acc[i * 4 + v], off, jv;
			jv = cg_iadd(f, t->j0, cg_i64(f, v * vl));
			off = cg_iadd(f, crow, cg_i64(f, v * vl));
			if (g->alpha != 1.0)
				y = LLVMBuildFMul(f->b, y, vconst(f, g->alpha),
						  "");
			if (g->bias) {
				LLVMValueRef bv = bias_vec(f, g, ri, jv, ln);
				if (g->beta != 1.0)
					bv = LLVMBuildFMul(f->b, bv,
						vconst(f, g->beta), "");
				y = LLVMBuildFAdd(f->b, y, bv, "");
			}
			if (g->res)
				y = LLVMBuildFAdd(f->b, y, cg_vload(f, g->res,
					cg_iadd(f, g->res0, off), ln), "");
			y = cg_vact(f, y, g->act, g->lo, g->hi);
			cg_vstore(f, g->c, cg_iadd(f, g->c0, off), y, ln);
		}
	}
}

static void
emit_tile(cg_fn *f, const cg_gemm *g, tpos *t, LLVMValueRef blk,
	  LLVMValueRef tile)
{
	LLVMValueRef acc[64];

	t->ablk = cg_iadd(f, g->a0, cg_imul(f, blk, g->amb));
	t->bt = cg_iadd(f, g->b0, cg_imul(f, tile, g->bnb));
	t->i0 = cg_imul(f, blk, g->mr);
	t->j0 = cg_imul(f, tile, (int64_t)g->nv * f->c->vl);
	k_loop(f, g, t, acc);
	store_tile(f, g, t, acc);
}

/* A tile's cost as a work unit (tasks.c): its multiply-adds plus the
 * stores. */
static int64_t
tile_work(const cg_gemm *g, int mr, int nv)
{
	return (g->k + 1) * mr * nv;
}

/* One tile as a work unit. */
static void
unit_tile(cg_fn *f, const cg_gemm *g, tpos *t, LLVMValueRef blk,
	  LLVMValueRef tile)
{
	cg_unit u;

	cg_unit_begin(f, tile_work(g, t->mr, t->nv), &u);
	emit_tile(f, g, t, blk, tile);
	cg_unit_end(f, &u);
}

/* Every row block of one column tile. */
static void
row_blocks(cg_fn *f, const cg_gemm *g0, LLVMValueRef tile, int nv,
	   int lanes)
{
	int64_t mb = g0->m / g0->mr;
	int mt = (int)(g0->m % g0->mr);
	tpos t = {.nv = nv, .lanes = lanes, .mr = g0->mr};
	const cg_gemm *g = g0;
	cg_loop l;

	if (mb > 0) {
		LLVMValueRef blk = cg_loop_begin(f, mb, &l);
		unit_tile(f, g, &t, blk, tile);
		cg_loop_end(f, &l);
	}
	if (mt) {
		t.mr = mt;
		unit_tile(f, g, &t, cg_i64(f, mb), tile);
	}
}

/* What the units of cg_gemm_emit cost in all (the same sum). */
int64_t
cg_gemm_work(const cg_ctx *c, const cg_gemm *g)
{
	int64_t nw = (int64_t)g->nv * c->vl, nt = g->n / nw, rem = g->n % nw;
	int64_t mb = g->m / g->mr, mt = g->m % g->mr, w;
	int nvt = (int)((rem + c->vl - 1) / c->vl);

	w = nt * (mb * tile_work(g, g->mr, g->nv) +
		  (mt ? tile_work(g, (int)mt, g->nv) : 0));
	if (rem)
		w += mb * tile_work(g, g->mr, nvt) +
		     (mt ? tile_work(g, (int)mt, nvt) : 0);
	return w;
}

/* Column tiles outermost: one tile of B (k x nw) stays in cache while
 * every row block of A streams past it. */
void
cg_gemm_emit(cg_fn *f, const cg_gemm *g)
{
	int vl = f->c->vl;
	int64_t nw = (int64_t)g->nv * vl, nt = g->n / nw, rem = g->n % nw;
	cg_loop l;

	NN_ASSERT(g->mr >= 1 && g->mr <= 16 && g->nv >= 1 && g->nv <= 4);
	if (nt > 0) {
		LLVMValueRef tile = cg_loop_begin(f, nt, &l);
		row_blocks(f, g, tile, g->nv, vl);
		cg_loop_end(f, &l);
	}
	if (rem) {
		int nvt = (int)((rem + vl - 1) / vl);
		cg_gemm gt = *g;
		if (g->sbkt)
			gt.sbk = g->sbkt;
		row_blocks(f, &gt, cg_i64(f, nt), nvt,
			   (int)(rem - (int64_t)(nvt - 1) * vl));
	}
}
