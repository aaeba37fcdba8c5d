/* Shared by the sparse kernel files (lower_sparse_fc.c, lower_sparse_conv.c,
 * lower_sparse_compact.c, sparse_nonfinite.c, sparse_cost.c): the geometry
 * of a weight layer seen as a sparse matrix of [rows = outputs, cols =
 * reduction], and the cost model's entry points. */
#ifndef NNCC_CG_SPARSE_H
#define NNCC_CG_SPARSE_H

#include "cg_internal.h"

/* Pixels per tile of the conv kernels: SP_NV vectors of SP_VEC floats
 * (AVX2 registers). 8 vectors (64 pixels) amortize the offset and weight
 * loads of a non-zero over twice the FMAs of 4 (ResNet-18 at 90%: -7%);
 * 16-wide vectors measured no faster on Zen 4. */
#ifndef SP_VEC
#define SP_VEC 8
#endif
#ifndef SP_NV
#define SP_NV 8
#endif
#define SP_TILE (SP_NV * SP_VEC)
/* Non-zeros per vector FMA of the batch-1 FC table kernel (rows are
 * padded to a multiple of it). */
#define SP_B1 8
/* Most input-copy floats a sparse conv kernel keeps in its workspace
 * scratch (cg_sparse_scratch_bytes). */
#define SP_MAX_SCRATCH (1 << 20)
/* Most straight-line multiply-adds in one generated function (bounds the
 * LLVM time per function; bigger layers are split). */
#define SP_CHUNK 4096

typedef struct sp_layer {
	const ir_node *n;
	const ir_value *w;
	int64_t w0;       /* element of w where the matrix starts (a
			   * recurrent layer's direction and gate rows) */
	bool conv;
	int64_t rows, cols, nnz;
	/* FC: y[M, rows] = alpha * x[M, cols] . W^T + beta * C */
	int64_t m, mc;    /* batch rows, and per vector chunk (divides m) */
	bool tb;          /* weight stored [rows, cols] (else [cols, rows]) */
	double alpha, beta;
	/* Conv (2-D; 1-D as h = oh = kh = 1): x[nb, c, h, w] ->
	 * y[nb, rows, oh, ow] */
	int64_t nb, c, h, wd, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, group;
	int64_t hq, wq;   /* one stride phase plane of the padded input */
	int64_t nph, npw; /* phases some kernel tap reads (1 for 1x1) */
	int64_t planes;   /* floats of all phase planes, plus read slack */
	int64_t scratch;  /* floats: phase planes + slack, plus the wide plane */
	int64_t bscratch; /* the same with one tile per output channel instead
			   * of the wide plane (blocked table kernel) */
	int64_t ntiles;   /* SP_TILE tiles of the wide output plane */
	int64_t icb, nblk; /* input channels per block, blocks (table) */
	int64_t nvec;     /* SP_VEC vectors of its pixels up to the last real
			   * one (the blocked kernel's last tile is partial) */
} sp_layer;

/* sparse_cost.c */
/* Whether n can take a sparse kernel, with its geometry in *L. */
bool sp_describe(const ir_node *n, sp_layer *L);
/* One product of recurrent layer n (lower_rnn.c) as an FC layer: weight
 * input slot (W: the input projections of the whole sequence, T*B rows;
 * R: one time step's, B rows), direction dir, gate rows [r0, r0 + nr)
 * of its G*H; y[m, nr] = x[m, cols] . w^T. dir < 0: the mean direction,
 * for the cost model. */
bool sp_describe_rnn(const ir_node *n, int slot, int dir, int64_t r0,
		     int64_t nr, sp_layer *L);
/* Index of phase p among the phases of stride s that taps 0..k-1 of
 * dilation d read (their count for p == s). */
int64_t sp_phase(int64_t k, int64_t d, int64_t s, int64_t p);
/* Weight of (row, col), and its codebook index (ncodes > 0). */
float sp_weight(const sp_layer *L, int64_t r, int64_t c);
int sp_code(const sp_layer *L, int64_t r, int64_t c);

/* lower_sparse_fc.c, lower_sparse_conv.c: the kernels. */
bool cg_lower_sparse_fc(cg_fn *f, const sp_layer *L, cg_kernel k);
/* y = x . W^T for FC layer L (no bias, alpha applied) with kernel k
 * (table or unrolled, not -Os's compact one), NaN fix included; x and y
 * float pointers. */
void sp_fc_product(cg_fn *f, const sp_layer *L, cg_kernel k,
		   LLVMValueRef x, LLVMValueRef y);
bool cg_lower_sparse_conv(cg_fn *f, const sp_layer *L, cg_kernel k);

/* lower_sparse_compact.c: the -Os FC table kernel (false: C cannot be
 * folded into it, use another) and its exact byte count. */
bool sp_compact_fc(cg_fn *f, const sp_layer *L);
int64_t sp_compact_bytes(const sp_layer *L);

/* sparse_nonfinite.c: after a sparse kernel (before the fused epilogue),
 * NaN where a skipped zero weight meets a NaN or Inf input of x, in y, as
 * the dense product gives; nothing but one scan of x when all is
 * finite. */
void sp_fix_nonfinite(cg_fn *f, const sp_layer *L, LLVMValueRef x,
		      LLVMValueRef y);
/* 1 (of integer type t) when the f32 v is NaN or +-Inf, else 0. */
LLVMValueRef sp_nonfinite(cg_fn *f, LLVMValueRef v, LLVMTypeRef t);

/* lower_sparse_fc.c: helpers both kernels use. */
LLVMValueRef sp_fmuladd(cg_fn *f, LLVMValueRef a, LLVMValueRef b,
			LLVMValueRef c);
LLVMValueRef sp_splat(cg_fn *f, LLVMValueRef s, unsigned n);
LLVMValueRef sp_vload(cg_fn *f, LLVMValueRef base, LLVMValueRef idx,
		      unsigned n);
void sp_vstore(cg_fn *f, LLVMValueRef base, LLVMValueRef idx,
	       LLVMValueRef v);
/* xT[k * mc + u] = x0[u * cols + k]: the mc batch rows of a chunk
 * transposed (in an alloca), so that a non-zero reads one vector; row
 * k = cols is zeros (what table pads in a row without zeros read). */
LLVMValueRef sp_transpose_chunk(cg_fn *f, const sp_layer *L,
				LLVMValueRef x0);
/* A constant global of n elements of the given byte width. */
LLVMValueRef sp_table(cg_fn *f, const void *data, int64_t n, int bytes);
LLVMValueRef sp_weights(cg_fn *f, const float *w, int64_t n);
/* Element idx of table t (width bytes), zero-extended to i64. */
LLVMValueRef sp_index(cg_fn *f, LLVMValueRef t, LLVMValueRef idx);
/* A sub-function of the node (ptr params), entered with a fresh builder
 * in *sub; sp_sub_end returns to the caller's builder. */
LLVMValueRef sp_sub_begin(cg_fn *f, cg_fn *sub, int nparams,
			  LLVMBuilderRef *b);
void sp_sub_end(cg_fn *sub, LLVMBuilderRef b);

#endif
