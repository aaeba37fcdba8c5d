/* Shared by the dense convolution files (lower_conv.c: the plan, the
 * generic loop nests and the GEMM kernels; lower_conv_dw.c: depthwise):
 * a layer's geometry, normalized to 3 spatial axes, and its kernel. */
#ifndef NNCC_CG_CONV_H
#define NNCC_CG_CONV_H

#include "cg_internal.h"

/* Spatial axes [0] = D, [1] = H, [2] = W; missing leading axes are 1, so
 * a 1-D convolution is a 2-D one over a 1 x L plane. */
typedef struct geo {
	int64_t in[3], out[3], k[3], s[3], d[3], p[3];
	int64_t kvol, isz, osz;
} geo;

typedef enum conv_kind { CK_GENERIC, CK_GEMM, CK_IM2COL, CK_DW } conv_kind;

typedef struct cplan {
	conv_kind kind;
	geo g;
	int64_t nb, cin, cout, grp, cg, mg;
	int64_t hp, wq, sw; /* depthwise: padded rows, phase width, phases */
	bool skip;          /* taps wholly in the padding may be left out */
} cplan;

/* A run [lo, hi) of output positions along one axis over which exactly
 * the taps [ka, kb) read the input (the others read only padding). */
typedef struct cspan {
	int64_t lo, hi, ka, kb;
} cspan;

#define CG_CONV_SLACK 64 /* floats a depthwise vector may read past a row */

/* lower_conv.c */
void cg_conv_range(int64_t cnt, int64_t lim, int64_t s, int64_t kd,
		   int64_t p, int64_t *lo, int64_t *hi);
/* The spans of output axis a, *n of them (the caller frees the array);
 * one span of every tap when !p->skip or when leaving
 * taps out would save less than an eighth of the axis' taps. A span with
 * no tap in bounds keeps one (reading zeros), so ka < kb always. */
cspan *cg_conv_spans(const cplan *p, int a, int *n);
bool cg_conv_generic(cg_fn *f);
void cg_conv_epilogue(cg_fn *f, cg_act *act, double *lo, double *hi,
		      LLVMValueRef *res);
LLVMValueRef cg_conv_fptr(cg_fn *f, LLVMValueRef p);
LLVMValueRef cg_conv_add_mul(cg_fn *f, LLVMValueRef base, LLVMValueRef i,
			     int64_t k);
void cg_conv_zero(cg_fn *f, LLVMValueRef p, LLVMValueRef idx, int64_t n);

/* lower_conv_dw.c: groups of one input channel over a padded copy of
 * each channel plane in the scratch (p->kind == CK_DW). */
bool cg_conv_dw(cg_fn *f, const cplan *p);

#endif
