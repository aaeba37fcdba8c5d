/* The per-layer kernel choice: which weight layers can take a sparse
 * kernel, their geometry, and a cost model (time, weight bytes, code
 * bytes) calibrated with bench/ measurements (docs/kernels.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sparse.h"

/* Calibration (ns, one core of the bench machine; docs/kernels.md):
 * dense: per multiply-add of the dense kernels; sparse: per stored
 * non-zero (FC, per batch vector) or per non-zero and SP_VEC-pixel vector
 * (conv table; unrolled: per SP_TILE-pixel tile), per float copied; the
 * margin keeps a sparse kernel out unless it is clearly
 * faster, so that model error never makes a layer slower than dense. */
static const struct {
	double dense_fc, dense_fc_mem, dense_conv;
	double dense_fc_codes; /* decoding shared weights (codes.c); their
				* codes are small enough not to be memory-bound */
	int64_t cache_bytes; /* weights above this stream from memory */
	double tab_fc, tab_fc_vec, unr_fc, unr_fc_vec, row;
	double tab_conv, conv_seg, unr_conv, conv_copy;
	double margin;
	/* bytes of straight-line code per layer: LLVM time grows with it,
	 * and conv gains little from unrolling (the tile loop dominates) */
	int64_t unroll_max_fc, unroll_max_conv;
} K = {
	.dense_fc = 0.06, .dense_fc_mem = 0.14, .dense_conv = 0.022,
	.dense_fc_codes = 0.05,
	.cache_bytes = 4 << 20,
	.tab_fc = 0.30, .tab_fc_vec = 0.75, .unr_fc = 0.40,
	.unr_fc_vec = 0.55, .row = 2.0,
	.tab_conv = 0.28, .conv_seg = 6.0, .unr_conv = 2.0,
	.conv_copy = 0.1,
	.margin = 0.8,
	.unroll_max_fc = 1 << 20, .unroll_max_conv = 128 << 10,
};

static bool
is_f32_const(const ir_value *v)
{
	return v && v->dtype == IR_F32 && !v->def && !v->is_input && v->data;
}

/* Rows of the batch an FC kernel handles per pass: the largest divisor
 * of m up to 16 whose rows fit the scratch. */
static int64_t
batch_rows(const sp_layer *L)
{
	for (int64_t d = 16; d > 1; d--)
		if (L->m % d == 0 && L->cols * d <= SP_MAX_SCRATCH)
			return d;
	return 1;
}

static bool
describe_fc(const ir_node *n, sp_layer *L)
{
	const ir_shape *as = &n->in[0]->shape, *ws = &n->in[1]->shape;
	bool gemm = n->op != OP_MatMul;

	if (ws->rank != 2 || as->rank < 2 || n->out[0]->dtype != IR_F32 ||
	    n->in[0]->dtype != IR_F32)
		return false;
	if (gemm && (as->rank != 2 || ir_attr_i(n, "transA")))
		return false;
	L->tb = gemm && ir_attr_i(n, "transB");
	L->rows = L->tb ? ws->dim[0] : ws->dim[1];
	L->cols = L->tb ? ws->dim[1] : ws->dim[0];
	L->alpha = gemm ? ir_attr_f(n, "alpha") : 1.0;
	L->beta = gemm ? ir_attr_f(n, "beta") : 1.0;
	/* empty layers (K, N or the batch 0) stay dense: nothing to skip */
	if (as->dim[as->rank - 1] != L->cols || L->cols == 0 || L->rows == 0)
		return false;
	L->m = ir_shape_numel(as) / L->cols;
	if (L->m == 0)
		return false;
	L->mc = batch_rows(L);
	return true;
}

/* Pads of one spatial axis (begin), auto_pad included. */
static int64_t
pad_begin(const ir_node *n, int axis, int64_t in, int64_t out, int64_t k,
	  int64_t s, int64_t d)
{
	const char *ap = ir_attr_s(n, "auto_pad");
	int np;
	const int64_t *p = ir_attr_ints(n, "pads", &np);
	int64_t tot;

	if (!strcmp(ap, "VALID"))
		return 0;
	if (!strcmp(ap, "NOTSET"))
		return p && axis < np ? p[axis] : 0;
	tot = (out - 1) * s + (k - 1) * d + 1 - in;
	if (tot < 0)
		tot = 0;
	return !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
}

static int64_t
attr_at(const ir_node *n, const char *name, int i)
{
	int cnt;
	const int64_t *v = ir_attr_ints(n, name, &cnt);

	return v && i < cnt ? v[i] : 1;
}

int64_t
sp_phase(int64_t k, int64_t d, int64_t s, int64_t p)
{
	int64_t r = 0;

	for (int64_t q = 0; q < p && q < s; q++)
		for (int64_t y = 0; y < k; y++)
			if (y * d % s == q) {
				r++;
				break;
			}
	return r;
}

/* Relative time of the tiles for plane width wq: vectors times loads,
 * where a load whose offset is not a whole vector from the tile (any
 * tap when wq is not a multiple of SP_VEC) crosses a cache line half of
 * the time (8 + 4 line accesses per tile instead of 8). */
static int64_t
plane_cost(const sp_layer *L, int64_t wq)
{
	int64_t nv = ((L->oh - 1) * wq + L->ow + SP_VEC - 1) / SP_VEC, mis = 0;

	for (int64_t x = 0; x < L->kw; x++)
		mis += wq % SP_VEC != 0 || x * L->dw / L->sw % SP_VEC != 0;
	return nv * (2 * L->kw + mis);
}

/* The phase planes: wide enough for the data and every tap of a real
 * output pixel, where a tap past the right edge may wrap into the next
 * row's left padding (zero) rather than need its own column (one more
 * row then keeps the last row's wrap inside the plane); or a multiple
 * of SP_VEC wide when aligned loads save more than the columns cost. */
static void
conv_planes(sp_layer *L)
{
	int64_t hp, wp, wn, w8;

	hp = (L->oh - 1) * L->sh + (L->kh - 1) * L->dh + 1;
	wp = (L->ow - 1) * L->sw + (L->kw - 1) * L->dw + 1;
	hp = hp > L->h + L->pt ? hp : L->h + L->pt;
	wn = wp - L->pl > L->wd + L->pl ? wp - L->pl : L->wd + L->pl;
	wp = wp > L->wd + L->pl ? wp : L->wd + L->pl;
	wp = (wp + L->sw - 1) / L->sw;
	wn = (wn + L->sw - 1) / L->sw;
	w8 = (wn + SP_VEC - 1) / SP_VEC * SP_VEC;
	L->wq = plane_cost(L, w8) * 20 < plane_cost(L, wn) * 19 ? w8 : wn;
	if (L->wq < wp)
		hp += L->sh;
	L->hq = (hp + L->sh - 1) / L->sh;
	L->nph = sp_phase(L->kh, L->dh, L->sh, L->sh);
	L->npw = sp_phase(L->kw, L->dw, L->sw, L->sw);
	/* rounded to 64 bytes: the tiles after the planes stay aligned */
	L->planes = (L->c * L->nph * L->npw * L->hq * L->wq + SP_TILE + L->wq +
		     15) / 16 * 16;
}

/* Input channels per block of the blocked table kernel: the phase-plane
 * floats one tile reads per input channel, times the block, should stay
 * in L1 (16 KiB) across all output channels. */
static int64_t
block_channels(const sp_layer *L)
{
	int64_t per = (SP_TILE + (L->kh - 1) * L->dh / L->sh * L->wq +
		       (L->kw - 1) * L->dw / L->sw) * L->nph * L->npw, cg, b;

	if (per > L->hq * L->wq * L->nph * L->npw)
		per = L->hq * L->wq * L->nph * L->npw;
	cg = L->cols / (L->kh * L->kw);
	b = 4096 / per;
	return b < 1 ? 1 : b > cg ? cg : b;
}

static bool
describe_conv(const ir_node *n, sp_layer *L)
{
	const ir_shape *x = &n->in[0]->shape, *w = &n->in[1]->shape,
		       *y = &n->out[0]->shape;
	int h = x->rank - 4, wa = x->rank - 3; /* the H and W axes, -1: none */

	if ((x->rank != 3 && x->rank != 4) || n->out[0]->dtype != IR_F32 ||
	    n->in[0]->dtype != IR_F32)
		return false;
	/* a 1-D convolution is a 2-D one over a 1 x L plane */
	L->conv = true;
	L->nb = x->dim[0], L->c = x->dim[1], L->h = h < 0 ? 1 : x->dim[2];
	L->wd = x->dim[2 + wa], L->rows = y->dim[1];
	L->oh = h < 0 ? 1 : y->dim[2], L->ow = y->dim[2 + wa];
	L->kh = h < 0 ? 1 : w->dim[2], L->kw = w->dim[2 + wa];
	L->group = ir_attr_i(n, "group");
	L->cols = w->dim[1] * L->kh * L->kw;
	L->sh = h < 0 ? 1 : attr_at(n, "strides", h);
	L->dh = h < 0 ? 1 : attr_at(n, "dilations", h);
	L->sw = attr_at(n, "strides", wa), L->dw = attr_at(n, "dilations", wa);
	L->pt = h < 0 ? 0 : pad_begin(n, h, L->h, L->oh, L->kh, L->sh, L->dh);
	L->pl = pad_begin(n, wa, L->wd, L->ow, L->kw, L->sw, L->dw);
	/* empty layers (no input channels, outputs or batch) stay dense */
	if (L->oh <= 0 || L->ow <= 0 || L->sh <= 0 || L->sw <= 0 ||
	    L->cols <= 0 || L->rows <= 0 || L->nb <= 0)
		return false;
	conv_planes(L);
	L->ntiles = (L->oh * L->wq + SP_TILE - 1) / SP_TILE;
	L->nvec = ((L->oh - 1) * L->wq + L->ow + SP_VEC - 1) / SP_VEC;
	L->scratch = L->planes + L->ntiles * SP_TILE;
	L->bscratch = L->planes + L->rows * SP_TILE;
	L->icb = block_channels(L);
	L->nblk = (L->cols / (L->kh * L->kw) + L->icb - 1) / L->icb;
	return L->nb > 0 && L->rows > 0 && L->cols > 0 &&
	       L->scratch <= SP_MAX_SCRATCH;
}

bool
sp_describe(const ir_node *n, sp_layer *L)
{
	memset(L, 0, sizeof *L);
	L->n = n;
	if (n->nin < 2 || !n->in[0] || !is_f32_const(n->in[1]) ||
	    !n->out[0] || (!n->in[0]->def && !n->in[0]->is_input))
		return false;
	L->w = n->in[1];
	L->nnz = L->w->nnz;
	switch (ir_ops[n->op].weight) {
	case IR_W_KN:
		return describe_fc(n, L);
	case IR_W_OIHW:
		return describe_conv(n, L);
	default: /* no sparse kernel for ConvTranspose */
		return false;
	}
}

int64_t
cg_sparse_scratch_bytes(const ir_node *n)
{
	sp_layer L;

	if (!sp_describe(n, &L) || !L.conv)
		return 0;
	return 4 * (L.bscratch > L.scratch && L.bscratch <= SP_MAX_SCRATCH
		    ? L.bscratch : L.scratch);
}

static int64_t
flat(const sp_layer *L, int64_t r, int64_t c)
{
	return L->w0 + (L->conv || L->tb ? r * L->cols + c : c * L->rows + r);
}

float
sp_weight(const sp_layer *L, int64_t r, int64_t c)
{
	return ((const float *)L->w->data)[flat(L, r, c)];
}

int
sp_code(const sp_layer *L, int64_t r, int64_t c)
{
	return L->w->codes[flat(L, r, c)];
}

/* Input slot of n is a weight input of its WEIGHT row (ops.def) and a
 * float constant. */
static bool
is_weight_layer(const ir_node *n, int slot)
{
	const ir_value *w = slot < n->nin ? n->in[slot] : NULL;

	return (ir_weight_inputs(n->op) >> slot & 1) && w && w->data &&
	       ir_dtype_is_float(w->dtype);
}

/* Non-zeros of the nr x cols matrix at element w0 of w. */
static int64_t
count_nnz(const ir_value *w, int64_t w0, int64_t n)
{
	const float *p = (const float *)w->data + w0;
	int64_t k = 0;

	for (int64_t i = 0; i < n; i++)
		k += p[i] != 0;
	return k;
}

bool
sp_describe_rnn(const ir_node *n, int slot, int dir, int64_t r0,
		int64_t nr, sp_layer *L)
{
	ir_rnn r;
	const ir_value *w = slot < n->nin ? n->in[slot] : NULL;

	memset(L, 0, sizeof *L);
	L->n = n;
	if (!is_f32_const(w) || !n->in[0] || n->in[0]->dtype != IR_F32 ||
	    !ir_rnn_get(n, &r, NULL) || (slot != IR_RNN_IN_W &&
					 slot != IR_RNN_IN_R))
		return false;
	L->w = w;
	L->tb = true;
	L->alpha = 1.0;
	L->rows = nr;
	L->cols = slot == IR_RNN_IN_W ? r.i : r.h;
	L->m = slot == IR_RNN_IN_W ? r.t * r.b : r.b;
	if (L->rows == 0 || L->cols == 0 || L->m == 0 ||
	    r0 + nr > r.gates * r.h)
		return false;
	if (dir >= 0) {
		L->w0 = (dir * r.gates * r.h + r0) * L->cols;
		L->nnz = count_nnz(w, L->w0, nr * L->cols);
	} else {
		int64_t z = 0;
		for (int d = 0; d < r.dirs; d++)
			z += count_nnz(w, (d * r.gates * r.h + r0) * L->cols,
				       nr * L->cols);
		L->nnz = z / r.dirs;
	}
	L->mc = batch_rows(L);
	return true;
}

/* Bytes of n stored entries of the -O3 table kernel: index + value, or
 * index + a code in the bitstream (codes.c) and the codebook. */
static int64_t
table_bytes(const sp_layer *L, int64_t n)
{
	int64_t idx = L->conv ? 4 : L->cols < 65536 ? 2 : 4;
	int nc = L->w->ncodes;

	return n * idx + (nc ? (n * ir_code_bits(nc) + 7) / 8 + nc * 4
			     : n * 4);
}

/* Object bytes of the unrolled kernels: the values (or just the codebook
 * the constant codes index) and the straight-line code, which is where
 * their weights really live. */
static int64_t
unrolled_bytes(const sp_layer *L, const cg_kernel_choice *c)
{
	return (L->w->ncodes ? L->w->ncodes * 4 : L->nnz * 4) +
	       c->code[CG_KERNEL_UNROLLED];
}

static void
estimate_fc(const sp_layer *L, bool small, cg_kernel_choice *c)
{
	double chunks = (double)(L->m / L->mc), nz = (double)L->nnz;
	double vec = L->mc > 1;
	/* rows padded to SP_B1 entries at batch 1, else to 4 */
	double pad = (double)L->rows * (L->mc == 1 ? (SP_B1 - 1) / 2.0 : 1.5);

	/* the blocked dense kernel streams the weights once per block of
	 * up to 8 batch rows (gemm_kernel.c keeps 8 rows in registers) */
	c->ns[CG_KERNEL_DENSE] = ceil((double)L->m / 8.0) * (double)c->params *
		(L->w->ncodes ? K.dense_fc + K.dense_fc_codes :
		 c->params * 4 > K.cache_bytes ? K.dense_fc_mem : K.dense_fc);
	c->ns[CG_KERNEL_TABLE] = chunks * ((nz + pad) * (vec ? K.tab_fc_vec
		: K.tab_fc) + (double)L->rows * K.row);
	c->ns[CG_KERNEL_UNROLLED] = chunks * (nz * (vec ? K.unr_fc_vec
		: K.unr_fc) + (double)L->rows * K.row);
	c->bytes[CG_KERNEL_TABLE] = small ? sp_compact_bytes(L) :
		table_bytes(L, L->nnz + (int64_t)pad) + (L->rows + 1) * 4;
	c->code[CG_KERNEL_UNROLLED] = L->nnz * 18 + L->rows * 24;
	c->bytes[CG_KERNEL_UNROLLED] = unrolled_bytes(L, c);
}

/* Table: the blocked kernel, per non-zero and vector of the plane up to
 * its last real pixel (less for loads a whole vector from the tile: 2/3
 * as many cache lines, plane_cost), plus per tile, block and channel
 * segment (the accumulators' round trip), plus the input copy and the
 * output written once. Unrolled: full tiles, a segment per tile and
 * channel, and the output written, copied and passed over by the
 * epilogue. */
static void
estimate_conv(const sp_layer *L, cg_kernel_choice *c)
{
	double nb = (double)L->nb, nz = (double)L->nnz;
	double out = (double)L->rows * (double)L->oh * (double)L->ow;
	double tiles = (double)((L->nvec + SP_NV - 1) / SP_NV);
	double vec = (double)plane_cost(L, L->wq) / (double)(3 * L->kw);

	c->ns[CG_KERNEL_DENSE] = nb * (double)L->oh * (double)L->ow *
				 (double)c->params * K.dense_conv;
	c->ns[CG_KERNEL_TABLE] = nb * (nz * vec * K.tab_conv + tiles *
		(double)(L->nblk * L->rows) * K.conv_seg + ((double)L->planes +
		out) * K.conv_copy);
	c->ns[CG_KERNEL_UNROLLED] = nb * (nz * (double)L->ntiles * K.unr_conv +
		(double)(L->ntiles * L->rows) * K.conv_seg +
		((double)L->scratch + 2 * out) * K.conv_copy);
	c->bytes[CG_KERNEL_TABLE] = table_bytes(L, L->nnz) +
				    (L->rows + 1) * 4;
	c->code[CG_KERNEL_UNROLLED] = L->nnz * 11 * SP_NV + L->rows * 200;
	c->bytes[CG_KERNEL_UNROLLED] = unrolled_bytes(L, c);
}

/* -O3 (speed): the fastest predicted kernel, sparse only when clearly
 * faster than dense; -Os (size): the table whenever it is smaller. */
static cg_kernel
pick(const cg_options *o, const cg_kernel_choice *c, bool conv)
{
	double d = c->ns[CG_KERNEL_DENSE];
	bool unroll_ok = c->code[CG_KERNEL_UNROLLED] <=
			 (conv ? K.unroll_max_conv : K.unroll_max_fc);

	if (o->force_kernel)
		return (cg_kernel)o->force_kernel;
	if (o->size_level)
		return c->bytes[CG_KERNEL_TABLE] < c->bytes[CG_KERNEL_DENSE]
		       ? CG_KERNEL_TABLE : CG_KERNEL_DENSE;
	if (o->opt_level == 0)
		return CG_KERNEL_DENSE;
	if (unroll_ok && c->ns[CG_KERNEL_UNROLLED] <= c->ns[CG_KERNEL_TABLE] &&
	    c->ns[CG_KERNEL_UNROLLED] < K.margin * d)
		return CG_KERNEL_UNROLLED;
	return c->ns[CG_KERNEL_TABLE] < K.margin * d ? CG_KERNEL_TABLE
						     : CG_KERNEL_DENSE;
}

/* Bytes the dense FC kernel saves by dropping the all-zero rows of its
 * weight (lower_gemm.c's fast path at -O2 and up: the live rows' values
 * plus an 8-byte index each), so that the reported bytes are the
 * object's (select-features zeroes whole input columns). */
static int64_t
dense_rows_dropped(const ir_node *n, const cg_options *o)
{
	const ir_value *w = n->in[1];
	bool tb = ir_attr_i_or(n, "transB", 0);
	int64_t k, cols, nl;

	if (o->opt_level < 2 || ir_ops[n->op].weight != IR_W_KN ||
	    cg_weight_shared(w) || w->dtype != IR_F32 || w->shape.rank != 2 ||
	    n->out[0]->dtype != IR_F32)
		return 0;
	k = w->shape.dim[tb ? 1 : 0];
	cols = w->shape.dim[tb ? 0 : 1];
	nl = cg_gemm_live_rows(w->data, tb, k, cols, NULL);
	return nl > 0 && nl < k ? (k - nl) * cols * 4 - nl * 8 : 0;
}

/* A recurrent layer's weight (GATES): its per-direction products as
 * one FC layer (sp_describe_rnn), their time that of every call: once
 * per direction for W, once per direction and time step for R. */
static bool
estimate_rnn(const ir_node *n, int slot, cg_kernel_choice *c)
{
	sp_layer L;
	ir_rnn r;
	double calls;
	int64_t params = c->params;

	if (!ir_rnn_get(n, &r, NULL) ||
	    !sp_describe_rnn(n, slot, -1, 0, r.gates * r.h, &L))
		return false;
	c->params = params / r.dirs; /* the dense product of one direction */
	estimate_fc(&L, false, c);
	c->params = params;
	calls = (double)r.dirs * (slot == IR_RNN_IN_R ? (double)r.t : 1.0);
	for (int k = 0; k < 4; k++)
		c->ns[k] *= calls;
	/* one table or unrolled body per direction (and GRU's extra R) */
	c->bytes[CG_KERNEL_TABLE] *= r.dirs;
	c->bytes[CG_KERNEL_UNROLLED] *= r.dirs;
	c->code[CG_KERNEL_UNROLLED] *= r.dirs;
	return true;
}

cg_kernel
cg_sparse_choose(const ir_node *n, int slot, const cg_options *o,
		 cg_kernel_choice *c)
{
	cg_kernel_choice tmp;
	sp_layer L;
	const ir_value *w;
	bool gates = ir_ops[n->op].weight == IR_W_GATES, conv;

	if (!c)
		c = &tmp;
	memset(c, 0, sizeof *c);
	/* a layer shape inference computed has no code, hence no kernel */
	if (!is_weight_layer(n, slot) || !cg_node_runs(n))
		return c->kind = CG_KERNEL_NONE;
	w = n->in[slot];
	c->params = ir_shape_numel(&w->shape);
	c->nnz = w->nnz;
	c->bytes[CG_KERNEL_DENSE] = cg_weight_shared(w) ?
		(c->params * ir_code_bits(w->ncodes) + 7) / 8 +
		w->ncodes * 4 :
		c->params * (int64_t)ir_dtype_size(w->dtype);
	c->bytes[CG_KERNEL_DENSE] -= dense_rows_dropped(n, o);
	if (gates ? !estimate_rnn(n, slot, c) : !sp_describe(n, &L))
		return c->kind = CG_KERNEL_DENSE;
	conv = !gates && L.conv;
	if (conv)
		estimate_conv(&L, c);
	else if (!gates)
		estimate_fc(&L, o->size_level > 0, c);
	c->kind = pick(o, c, conv);
	/* The FC table (not -Os's, which a recurrent layer does not use)
	 * pads rows with code 0, which is a zero only when the codebook
	 * holds one (share.c puts it first): a zero-free codebook layer is
	 * not eligible, --sparse-kernel=table included, and stays dense. */
	if (c->kind == CG_KERNEL_TABLE && !conv && (gates ||
	    !o->size_level) && cg_weight_shared(w) && w->codebook &&
	    w->codebook[0] != 0.0f)
		c->kind = CG_KERNEL_DENSE;
	return c->kind;
}

const char *
cg_kernel_name(cg_kernel k)
{
	static const char *const names[] = {"-", "dense", "unrolled",
					    "table"};

	return names[k];
}

static void
print_choice(const ir_node *n, int slot, const cg_kernel_choice *c)
{
	const char *in = ir_weight_input_name(n->op, slot);
	const char *form = cg_conv_form(n);
	char name[512], kind[64];

	/* a recurrent layer's weights as the report names them: "NODE:W" */
	snprintf(name, sizeof name, "%s%s%s", n->name ? n->name :
		 ir_value_label(n->out[0]), in ? ":" : "", in ? in : "");
	/* dense: the form emitted, "gemm" for every fully connected one */
	snprintf(kind, sizeof kind, "%s%s%s%s", cg_kernel_name(c->kind),
		 c->kind == CG_KERNEL_DENSE ? " (" : "",
		 c->kind != CG_KERNEL_DENSE ? "" : form ? form : "gemm",
		 c->kind == CG_KERNEL_DENSE ? ")" : "");
	fprintf(stderr, "nncc: kernel %-20s %-14s nnz %9lld/%-9lld -> %-17s "
		"predicted dense %.1f us, unrolled %.1f us (%lld B code), "
		"table %.1f us (%lld B)\n", name,
		ir_ops[n->op].name, (long long)c->nnz, (long long)c->params,
		kind, c->ns[CG_KERNEL_DENSE] / 1e3,
		c->ns[CG_KERNEL_UNROLLED] / 1e3,
		(long long)c->code[CG_KERNEL_UNROLLED],
		c->ns[CG_KERNEL_TABLE] / 1e3,
		(long long)c->bytes[CG_KERNEL_TABLE]);
}

cg_kernel
cg_sparse_kernel(cg_ctx *c, const ir_node *n, bool announce)
{
	cg_kernel_choice ch;
	cg_kernel k = CG_KERNEL_NONE;

	for (int slot = 1; slot < n->nin; slot++) {
		cg_kernel ks = cg_sparse_choose(n, slot, c->o, &ch);
		if (ks == CG_KERNEL_NONE)
			continue;
		if (c->o->print_stats && announce)
			print_choice(n, slot, &ch);
		if (k == CG_KERNEL_NONE)
			k = ks;
	}
	/* a recurrent layer's products take their kernels inside its own
	 * lowering (lower_rnn.c) */
	if (k != CG_KERNEL_NONE && ir_ops[n->op].weight == IR_W_GATES)
		k = CG_KERNEL_DENSE;
	return k;
}

bool
cg_lower_sparse(cg_fn *f, cg_kernel k)
{
	sp_layer L;
	bool ok;

	NN_ASSERT(sp_describe(f->n, &L));
	ok = L.conv ? cg_lower_sparse_conv(f, &L, k)
		    : cg_lower_sparse_fc(f, &L, k);
	if (ok && !f->epi_done && ir_ops[f->n->op].kind == IR_KIND_FUSED)
		ok = cg_lower_fused_epilogue(f);
	return ok;
}
