/* Conv and ConvTranspose: shape inference and reference kernels (im2col or
 * col2im around a BLAS gemm), plus the sliding-window geometry that the
 * pools share. Non-f32 float types are computed in double. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

static int64_t
prod(const int64_t *v, int n)
{
	int64_t p = 1;
	for (int i = 0; i < n; i++)
		p *= v[i];
	return p;
}

/* Row-major odometer step of idx within lim. */
static void
next_index(int64_t *idx, const int64_t *lim, int nd)
{
	for (int i = nd - 1; i >= 0; i--) {
		if (++idx[i] < lim[i])
			return;
		idx[i] = 0;
	}
}

static int64_t
floor_div2(int64_t v)
{
	return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

/* The ints attribute `name` into v[want], or dflt everywhere if absent. */
static bool
read_ints(const ir_node *n, const char *name, int want, int64_t dflt,
	  int64_t *v, nn_diag *d)
{
	int cnt;
	const int64_t *a = ir_attr_ints(n, name, &cnt);
	if (!a) {
		for (int i = 0; i < want; i++)
			v[i] = dflt;
		return true;
	}
	if (cnt != want) {
		nn_error_node(d, n, "attribute '%s' has %d values, expected %d",
			      name, cnt, want);
		return false;
	}
	memcpy(v, a, (size_t)want * sizeof *v);
	return true;
}

static int
auto_pad_mode(const ir_node *n, nn_diag *d)
{
	const char *s = ir_attr_s(n, "auto_pad");
	if (!strcmp(s, "NOTSET") || !s[0])
		return PAD_NOTSET;
	if (!strcmp(s, "SAME_UPPER"))
		return PAD_SAME_UPPER;
	if (!strcmp(s, "SAME_LOWER"))
		return PAD_SAME_LOWER;
	if (!strcmp(s, "VALID"))
		return PAD_VALID;
	nn_error_node(d, n, "unknown auto_pad '%s'", s);
	return -1;
}

/* Strides, dilations and pads of n (nd spatial dims), all checked. */
static bool
read_window_attrs(const ir_node *n, ir_window *w, nn_diag *d)
{
	int nd = w->nd;
	int64_t pads[2 * IR_MAX_RANK];
	if (!read_ints(n, "strides", nd, 1, w->s, d) ||
	    !read_ints(n, "dilations", nd, 1, w->dil, d) ||
	    !read_ints(n, "pads", 2 * nd, 0, pads, d))
		return false;
	for (int i = 0; i < nd; i++) {
		w->pb[i] = pads[i];
		w->pe[i] = pads[nd + i];
		if (w->s[i] < 1 || w->dil[i] < 1 || w->k[i] < 1 ||
		    w->pb[i] < 0 || w->pe[i] < 0) {
			nn_error_node(d, n, "spatial axis %d: kernel %lld, "
				      "stride %lld, dilation %lld, pads %lld+%lld"
				      " (kernel, stride and dilation must be "
				      ">= 1, pads >= 0)", i, (long long)w->k[i],
				      (long long)w->s[i], (long long)w->dil[i],
				      (long long)w->pb[i], (long long)w->pe[i]);
			return false;
		}
		/* Bounded so the window arithmetic cannot overflow int64. */
		if (w->s[i] > IR_MAX_ELEMS || w->pb[i] > IR_MAX_ELEMS ||
		    w->pe[i] > IR_MAX_ELEMS || w->k[i] > IR_MAX_ELEMS ||
		    w->k[i] - 1 > IR_MAX_ELEMS / w->dil[i]) {
			nn_error_node(d, n, "spatial axis %d: kernel %lld, "
				      "stride %lld, dilation %lld or pads "
				      "%lld+%lld above %lld", i,
				      (long long)w->k[i], (long long)w->s[i],
				      (long long)w->dil[i], (long long)w->pb[i],
				      (long long)w->pe[i],
				      (long long)IR_MAX_ELEMS);
			return false;
		}
	}
	return true;
}

/* Output size of one spatial axis; may set the pads (auto_pad). */
static int64_t
window_out(ir_window *w, int i, int mode, bool ceil_mode)
{
	int64_t ek = (w->k[i] - 1) * w->dil[i] + 1, in = w->in[i], s = w->s[i];
	int64_t out, span, total;
	switch (mode) {
	case PAD_SAME_UPPER:
	case PAD_SAME_LOWER:
		out = (in + s - 1) / s;
		total = (out - 1) * s + ek - in;
		total = total > 0 ? total : 0;
		w->pb[i] = mode == PAD_SAME_UPPER ? total / 2 : total - total / 2;
		w->pe[i] = total - w->pb[i];
		return out;
	case PAD_VALID:
		w->pb[i] = w->pe[i] = 0;
		span = in - ek;
		return span < 0 ? 0 : span / s + 1;
	default:
		span = in + w->pb[i] + w->pe[i] - ek;
		if (span < 0)
			return 0;
		if (!ceil_mode)
			return span / s + 1;
		out = (span + s - 1) / s + 1;
		/* The last window must start inside the input or left pad. */
		return (out - 1) * s >= in + w->pb[i] ? out - 1 : out;
	}
}

bool
ir_window_init(const ir_node *n, const ir_shape *x, const int64_t *k,
	       bool ceil_mode, ir_window *w, nn_diag *d)
{
	memset(w, 0, sizeof *w);
	w->nd = x->rank - 2;
	NN_ASSERT(w->nd >= 1 && w->nd <= IR_MAX_RANK - 2);
	memcpy(w->k, k, (size_t)w->nd * sizeof *k);
	memcpy(w->in, x->dim + 2, (size_t)w->nd * sizeof *k);
	int mode = auto_pad_mode(n, d);
	if (mode < 0 || !read_window_attrs(n, w, d))
		return false;
	for (int i = 0; i < w->nd; i++) {
		w->out[i] = window_out(w, i, mode, ceil_mode);
		if (w->out[i] <= 0) {
			nn_error_node(d, n, "spatial axis %d: input size %lld is "
				      "too small for kernel %lld with dilation "
				      "%lld and pads %lld+%lld (output size "
				      "%lld)", i, (long long)w->in[i],
				      (long long)w->k[i], (long long)w->dil[i],
				      (long long)w->pb[i], (long long)w->pe[i],
				      (long long)w->out[i]);
			return false;
		}
	}
	return true;
}

/* For kernel offsets kk and positions p of the `iter` grid, the row-major
 * position c = p * s - pb + kk * dil in the `bound` grid; -1 where c lies
 * in [-pb, bound + pe) but outside the grid, -2 beyond. */
static int64_t *
build_map(const ir_window *w, const int64_t *iter, const int64_t *bound)
{
	int nd = w->nd;
	int64_t kn = prod(w->k, nd), np = prod(iter, nd);
	int64_t *map = nn_xmalloc((size_t)(kn * np) * sizeof *map);
	int64_t kk[IR_MAX_RANK] = {0}, p[IR_MAX_RANK];
	for (int64_t a = 0; a < kn; a++, next_index(kk, w->k, nd)) {
		memset(p, 0, sizeof p);
		for (int64_t b = 0; b < np; b++, next_index(p, iter, nd)) {
			int64_t idx = 0, state = 0;
			for (int i = 0; i < nd; i++) {
				int64_t c = p[i] * w->s[i] - w->pb[i] +
					    kk[i] * w->dil[i];
				if (c >= 0 && c < bound[i])
					idx = idx * bound[i] + c;
				else if (c < -w->pb[i] ||
					 c >= bound[i] + w->pe[i])
					state = -2;
				else if (state == 0)
					state = -1;
			}
			map[a * np + b] = state ? state : idx;
		}
	}
	return map;
}

int64_t *
ir_window_map(const ir_window *w)
{
	return build_map(w, w->out, w->in);
}

/* Conv/ConvTranspose sizes; w.in and w.out are the spatial sizes of X and
 * Y for both ops (ConvTranspose runs the window from Y back to X). */
typedef struct conv_geom {
	ir_window w;
	int64_t n, c, m, g;     /* batch, input and output channels, groups */
	int64_t kn, pin, pout;  /* kernel, input and output spatial sizes */
} conv_geom;

/* ConvTranspose output size and begin pads from its attributes. */
static bool
convt_window(const ir_node *n, ir_window *w, nn_diag *d)
{
	int nd = w->nd, cnt, mode = auto_pad_mode(n, d);
	int64_t opad[IR_MAX_RANK];
	const int64_t *os = ir_attr_ints(n, "output_shape", &cnt);
	if (mode < 0 || !read_window_attrs(n, w, d) ||
	    !read_ints(n, "output_padding", nd, 0, opad, d))
		return false;
	if (os && cnt != nd && cnt != nd + 2) {
		nn_error_node(d, n, "output_shape has %d values, expected %d",
			      cnt, nd);
		return false;
	}
	for (int i = 0; i < nd; i++) {
		if (opad[i] < 0) {
			nn_error_node(d, n, "negative output_padding");
			return false;
		}
		/* Bounded so `full` and the pads cannot overflow int64. */
		if (opad[i] > IR_MAX_ELEMS ||
		    w->in[i] - 1 > IR_MAX_ELEMS / w->s[i] ||
		    (os && (os[cnt - nd + i] < 0 ||
			    os[cnt - nd + i] > IR_MAX_ELEMS))) {
			nn_error_node(d, n, "spatial axis %d: stride %lld, "
				      "output_padding or output_shape out of "
				      "range", i, (long long)w->s[i]);
			return false;
		}
		int64_t full = w->s[i] * (w->in[i] - 1) + opad[i] +
			       (w->k[i] - 1) * w->dil[i] + 1;
		if (os || mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
			w->out[i] = os ? os[cnt - nd + i] : w->in[i] * w->s[i];
			int64_t total = full - w->out[i];
			w->pb[i] = mode == PAD_SAME_UPPER ? floor_div2(total) :
				   total - floor_div2(total);
		} else if (mode == PAD_VALID) {
			w->pb[i] = 0;
			w->out[i] = full;
		} else {
			w->out[i] = full - w->pb[i] - w->pe[i];
		}
		w->pe[i] = 0;
		if (w->out[i] <= 0) {
			nn_error_node(d, n, "spatial axis %d: output size %lld "
				      "<= 0", i, (long long)w->out[i]);
			return false;
		}
	}
	return true;
}

static bool
check_types(const ir_node *n, nn_diag *d)
{
	const ir_value *x = n->in[0], *wt = n->in[1], *b = n->nin > 2 ?
								n->in[2] : NULL;
	if (!ir_dtype_is_float(x->dtype)) {
		nn_error_node(d, n, "dtype %s not supported",
			      ir_dtype_name(x->dtype));
		return false;
	}
	if (wt->dtype != x->dtype || (b && b->dtype != x->dtype)) {
		nn_error_node(d, n, "weight and bias dtypes must equal the "
			      "input's (%s)", ir_dtype_name(x->dtype));
		return false;
	}
	if (x->shape.rank < 3 || x->shape.rank > IR_MAX_RANK) {
		nn_error_node(d, n, "input has rank %d, expected N x C x "
			      "spatial dims (rank 3 to %d)", x->shape.rank,
			      IR_MAX_RANK);
		return false;
	}
	if (wt->shape.rank != x->shape.rank) {
		nn_error_node(d, n, "weight rank %d != input rank %d",
			      wt->shape.rank, x->shape.rank);
		return false;
	}
	return true;
}

/* Channel counts against group, kernel_shape and bias. */
static bool
check_channels(const ir_node *n, conv_geom *cg, nn_diag *d)
{
	const ir_shape *ws = &n->in[1]->shape;
	const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	bool tr = n->op == OP_ConvTranspose;
	int64_t wc = tr ? ws->dim[0] : ws->dim[1] * cg->g;
	int cnt;
	const int64_t *ks = ir_attr_ints(n, "kernel_shape", &cnt);
	if (cg->g < 1 || cg->c % cg->g) {
		nn_error_node(d, n, "group %lld does not divide the %lld input "
			      "channels", (long long)cg->g, (long long)cg->c);
		return false;
	}
	if (wc != cg->c) {
		nn_error_node(d, n, "weight expects %lld input channels (group "
			      "%lld), input has %lld", (long long)wc,
			      (long long)cg->g, (long long)cg->c);
		return false;
	}
	cg->m = tr ? ws->dim[1] * cg->g : ws->dim[0];
	if (cg->m < 1 || cg->m % cg->g) {
		nn_error_node(d, n, "%lld output channels not divisible by "
			      "group %lld", (long long)cg->m, (long long)cg->g);
		return false;
	}
	if (ks && (cnt != cg->w.nd ||
		   memcmp(ks, ws->dim + 2, (size_t)cnt * sizeof *ks))) {
		nn_error_node(d, n, "kernel_shape does not match the weight's "
			      "spatial dims");
		return false;
	}
	if (b && (b->shape.rank != 1 || b->shape.dim[0] != cg->m)) {
		nn_error_node(d, n, "bias must have shape [%lld]",
			      (long long)cg->m);
		return false;
	}
	return true;
}

static bool
conv_geometry(const ir_node *n, conv_geom *cg, nn_diag *d)
{
	if (!check_types(n, d))
		return false;
	const ir_shape *xs = &n->in[0]->shape, *ws = &n->in[1]->shape;
	memset(cg, 0, sizeof *cg);
	cg->n = xs->dim[0];
	cg->c = xs->dim[1];
	cg->g = ir_attr_i(n, "group");
	cg->w.nd = xs->rank - 2;
	if (!check_channels(n, cg, d))
		return false;
	if (n->op == OP_Conv) {
		if (!ir_window_init(n, xs, ws->dim + 2, false, &cg->w, d))
			return false;
	} else {
		memcpy(cg->w.k, ws->dim + 2, (size_t)cg->w.nd * sizeof(int64_t));
		memcpy(cg->w.in, xs->dim + 2, (size_t)cg->w.nd * sizeof(int64_t));
		if (!convt_window(n, &cg->w, d))
			return false;
	}
	cg->kn = prod(cg->w.k, cg->w.nd);
	cg->pin = prod(cg->w.in, cg->w.nd);
	cg->pout = prod(cg->w.out, cg->w.nd);
	return true;
}

bool
ir_shape_conv(ir_graph *g, ir_node *n, nn_diag *d)
{
	conv_geom cg;
	(void)g;
	if (!conv_geometry(n, &cg, d))
		return false;
	ir_value *y = n->out[0];
	y->dtype = n->in[0]->dtype;
	y->shape.rank = cg.w.nd + 2;
	y->shape.dim[0] = cg.n;
	y->shape.dim[1] = cg.m;
	memcpy(y->shape.dim + 2, cg.w.out, (size_t)cg.w.nd * sizeof(int64_t));
	return true;
}

/* Buffers of one conv evaluation, all float or all double. */
typedef struct conv_bufs {
	const void *x, *w, *b;
	void *y;
	bool dbl;
} conv_bufs;

static void
gemm(bool dbl, bool ta, int64_t m, int64_t nn, int64_t k, const void *a,
     int64_t lda, const void *b, void *c)
{
	enum CBLAS_TRANSPOSE t = ta ? CblasTrans : CblasNoTrans;
	if (dbl)
		cblas_dgemm(CblasRowMajor, t, CblasNoTrans, (int)m, (int)nn,
			    (int)k, 1.0, a, (int)lda, b, (int)nn, 0.0, c,
			    (int)nn);
	else
		cblas_sgemm(CblasRowMajor, t, CblasNoTrans, (int)m, (int)nn,
			    (int)k, 1.0f, a, (int)lda, b, (int)nn, 0.0f, c,
			    (int)nn);
}

/* col[(c * kn + kk) * pout + p] = x[c][map[kk][p]] or 0 in the padding. */
static void
im2col(const conv_geom *cg, const int64_t *map, bool dbl, const void *x,
       void *col, int64_t cin)
{
	int64_t rows = cin * cg->kn, np = cg->pout;
	for (int64_t r = 0; r < rows; r++) {
		int64_t c = r / cg->kn, kk = r % cg->kn;
		const int64_t *mp = map + kk * np;
		if (dbl) {
			const double *xc = (const double *)x + c * cg->pin;
			double *o = (double *)col + r * np;
			for (int64_t p = 0; p < np; p++)
				o[p] = mp[p] >= 0 ? xc[mp[p]] : 0.0;
		} else {
			const float *xc = (const float *)x + c * cg->pin;
			float *o = (float *)col + r * np;
			for (int64_t p = 0; p < np; p++)
				o[p] = mp[p] >= 0 ? xc[mp[p]] : 0.0f;
		}
	}
}

/* y[m][map[kk][p]] += col[(m * kn + kk) * pin + p]. */
static void
col2im(const conv_geom *cg, const int64_t *map, bool dbl, const void *col,
       void *y, int64_t mg)
{
	int64_t rows = mg * cg->kn, np = cg->pin;
	for (int64_t r = 0; r < rows; r++) {
		int64_t m = r / cg->kn, kk = r % cg->kn;
		const int64_t *mp = map + kk * np;
		if (dbl) {
			const double *s = (const double *)col + r * np;
			double *ym = (double *)y + m * cg->pout;
			for (int64_t p = 0; p < np; p++)
				if (mp[p] >= 0)
					ym[mp[p]] += s[p];
		} else {
			const float *s = (const float *)col + r * np;
			float *ym = (float *)y + m * cg->pout;
			for (int64_t p = 0; p < np; p++)
				if (mp[p] >= 0)
					ym[mp[p]] += s[p];
		}
	}
}

static void
add_bias(const conv_geom *cg, const conv_bufs *io)
{
	if (!io->b)
		return;
	for (int64_t i = 0; i < cg->n * cg->m; i++) {
		int64_t m = i % cg->m;
		for (int64_t p = 0; p < cg->pout; p++) {
			if (io->dbl)
				((double *)io->y)[i * cg->pout + p] +=
					((const double *)io->b)[m];
			else
				((float *)io->y)[i * cg->pout + p] +=
					((const float *)io->b)[m];
		}
	}
}

/* A 1x1 unit-stride unpadded conv reads its input as the column matrix. */
static bool
is_pointwise(const conv_geom *cg)
{
	for (int i = 0; i < cg->w.nd; i++)
		if (cg->w.k[i] != 1 || cg->w.s[i] != 1 || cg->w.pb[i] ||
		    cg->w.pe[i])
			return false;
	return true;
}

static void
conv_run(const conv_geom *cg, const conv_bufs *io)
{
	size_t es = io->dbl ? sizeof(double) : sizeof(float);
	int64_t cin = cg->c / cg->g, mg = cg->m / cg->g, rows = cin * cg->kn;
	int64_t *map = is_pointwise(cg) ? NULL : ir_window_map(&cg->w);
	char *col = map ? nn_xmalloc((size_t)(rows * cg->pout) * es) : NULL;
	for (int64_t b = 0; b < cg->n; b++)
		for (int64_t g = 0; g < cg->g; g++) {
			const char *xg = (const char *)io->x +
					 (size_t)((b * cg->c + g * cin) *
						  cg->pin) * es;
			if (map)
				im2col(cg, map, io->dbl, xg, col, cin);
			gemm(io->dbl, false, mg, cg->pout, rows,
			     (const char *)io->w + (size_t)(g * mg * rows) * es,
			     rows, map ? col : xg,
			     (char *)io->y + (size_t)((b * cg->m + g * mg) *
						      cg->pout) * es);
		}
	free(col);
	free(map);
	add_bias(cg, io);
}

static void
convt_run(const conv_geom *cg, const conv_bufs *io)
{
	size_t es = io->dbl ? sizeof(double) : sizeof(float);
	int64_t cin = cg->c / cg->g, mg = cg->m / cg->g, cols = mg * cg->kn;
	int64_t *map = build_map(&cg->w, cg->w.in, cg->w.out);
	char *col = nn_xmalloc((size_t)(cols * cg->pin) * es);
	memset(io->y, 0, (size_t)(cg->n * cg->m * cg->pout) * es);
	for (int64_t b = 0; b < cg->n; b++)
		for (int64_t g = 0; g < cg->g; g++) {
			const char *xg = (const char *)io->x +
					 (size_t)((b * cg->c + g * cin) *
						  cg->pin) * es;
			gemm(io->dbl, true, cols, cg->pin, cin,
			     (const char *)io->w + (size_t)(g * cin * cols) * es,
			     cols, xg, col);
			col2im(cg, map, io->dbl, col,
			       (char *)io->y + (size_t)((b * cg->m + g * mg) *
							cg->pout) * es, mg);
		}
	free(col);
	free(map);
	add_bias(cg, io);
}

bool
ir_eval_conv(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	conv_geom cg;
	if (!conv_geometry(n, &cg, d))
		return false;
	const void *bias = n->nin > 2 && n->in[2] ? in[2] : NULL;
	void (*run)(const conv_geom *, const conv_bufs *) =
		n->op == OP_Conv ? conv_run : convt_run;
	if (n->in[0]->dtype == IR_F32 || n->in[0]->dtype == IR_F64) {
		conv_bufs io = {in[0], in[1], bias, out[0],
				n->in[0]->dtype == IR_F64};
		run(&cg, &io);
		return true;
	}
	/* f16, bf16: widen to double, narrow the result. */
	const ir_value *y = n->out[0];
	int64_t ny = ir_shape_numel(&y->shape);
	conv_bufs io = {elem_to_f64(n->in[0], in[0]),
			elem_to_f64(n->in[1], in[1]),
			bias ? elem_to_f64(n->in[2], bias) : NULL,
			nn_xmalloc((size_t)ny * sizeof(double)), true};
	run(&cg, &io);
	for (int64_t i = 0; i < ny; i++)
		ir_store_f64(out[0], y->dtype, i, ((double *)io.y)[i]);
	free((void *)io.x);
	free((void *)io.w);
	free((void *)io.b);
	free(io.y);
	return true;
}
