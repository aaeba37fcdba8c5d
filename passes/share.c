/* The `share-weights` pass: k-means codebooks for the non-zero weights of
 * each weight layer (or one codebook for all), so code generation can
 * store small indices plus centroids. Pruned zeros stay exactly zero:
 * codebook entry 0 is reserved for them (docs/compression.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

static int
cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* First index of sorted xs[0..n) greater than v. */
static int64_t
upper_bound(const double *xs, int64_t n, double v)
{
	int64_t lo = 0, hi = n;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (xs[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* k-means++: the first centroid uniformly, each next one with
 * probability proportional to the squared distance to the nearest
 * chosen; stops early when every point is a centroid. */
static int
seed_plusplus(const double *xs, int64_t n, int k, cmp_rng *r, double *c)
{
	double *d2 = nn_xmalloc((size_t)n * sizeof *d2);
	int m = 0;
	c[m++] = xs[(int64_t)(cmp_rng_unif(r) * (double)n)];
	for (int64_t i = 0; i < n; i++)
		d2[i] = (xs[i] - c[0]) * (xs[i] - c[0]);
	while (m < k) {
		double total = 0, acc = 0, t;
		int64_t i;
		for (i = 0; i < n; i++)
			total += d2[i];
		if (total <= 0)
			break;
		t = cmp_rng_unif(r) * total;
		for (i = 0; i < n - 1 && (acc += d2[i]) <= t; i++)
			;
		c[m] = xs[i];
		for (int64_t j = 0; j < n; j++) {
			double e = (xs[j] - c[m]) * (xs[j] - c[m]);
			d2[j] = e < d2[j] ? e : d2[j];
		}
		m++;
	}
	free(d2);
	return m;
}

/* Cluster boundaries of sorted xs for sorted centroids c: cluster j is
 * xs[b[j] .. b[j+1]), a point at a midpoint going to the lower one. */
static bool
boundaries(const double *xs, int64_t n, const double *c, int m, int64_t *b)
{
	bool moved = b[0] != 0 || b[m] != n;
	for (int j = 1; j < m; j++) {
		int64_t nb = upper_bound(xs, n, (c[j - 1] + c[j]) / 2);
		moved |= nb != b[j];
		b[j] = nb;
	}
	b[0] = 0;
	b[m] = n;
	return moved;
}

int
cmp_kmeans_1d(const float *x, int64_t n, int k, uint64_t seed, int max_iter,
	      float *out, int *iters)
{
	if (n <= 0 || k <= 0)
		return 0;
	double *xs = nn_xmalloc((size_t)n * sizeof *xs);
	double *S = nn_xmalloc((size_t)(n + 1) * sizeof *S);
	double *c = nn_xmalloc((size_t)k * sizeof *c);
	int64_t *b = nn_xmalloc((size_t)(k + 1) * sizeof *b);
	cmp_rng r = { seed };
	int m, it = 0, nout = 0;
	for (int64_t i = 0; i < n; i++)
		xs[i] = x[i];
	qsort(xs, (size_t)n, sizeof *xs, cmp_dbl);
	S[0] = 0;
	for (int64_t i = 0; i < n; i++)
		S[i + 1] = S[i] + xs[i];
	m = seed_plusplus(xs, n, k, &r, c);
	qsort(c, (size_t)m, sizeof *c, cmp_dbl);
	for (int j = 0; j <= m; j++)
		b[j] = -1;
	/* Lloyd: means of the current clusters until no boundary moves. */
	while (boundaries(xs, n, c, m, b) && it < max_iter) {
		for (int j = 0; j < m; j++)
			if (b[j + 1] > b[j])
				c[j] = (S[b[j + 1]] - S[b[j]]) /
				       (double)(b[j + 1] - b[j]);
		qsort(c, (size_t)m, sizeof *c, cmp_dbl);
		it++;
	}
	for (int j = 0; j < m; j++) {
		float f = (float)c[j];
		if (b[j + 1] > b[j] && (nout == 0 || out[nout - 1] != f))
			out[nout++] = f;
	}
	if (iters)
		*iters = it;
	free(xs);
	free(S);
	free(c);
	free(b);
	return nout;
}

/* Index of the centroid of c[lo..m) (ascending) nearest to v; ties go to
 * the lower one. */
static int
nearest(const float *c, int lo, int m, float v)
{
	int a = lo, z = m - 1;
	while (a < z) {
		int mid = (a + z) / 2;
		if ((double)v - c[mid] <= (double)c[mid + 1] - v)
			z = mid;
		else
			a = mid + 1;
	}
	return a;
}

/* A codebook being built: book[0] = 0 when zeros are reserved, then the
 * ascending non-zero centroids from index `lo`. */
typedef struct book {
	float c[IR_MAX_CODES];
	int n, lo;
} book;

/* Builds the codebook of the non-zero values nz[0..cnt) with room for k
 * entries, entry 0 being exact zero when has_zero. */
static void
make_book(const float *nz, int64_t cnt, bool has_zero, int k, uint64_t seed,
	  int iters, book *bk)
{
	float cs[IR_MAX_CODES];
	int m = cmp_kmeans_1d(nz, cnt, has_zero ? k - 1 : k, seed, iters, cs,
			      NULL);
	bk->n = bk->lo = 0;
	if (has_zero) {
		bk->c[bk->n++] = 0;
		bk->lo = 1;
	}
	/* A centroid that rounds to 0 is dropped: sharing never turns a
	 * non-zero into a zero, so nnz (and the sparse pattern) is kept. */
	for (int j = 0; j < m; j++)
		if (cs[j] != 0)
			bk->c[bk->n++] = cs[j];
	if (bk->n == bk->lo) /* no non-zero: keep a harmless entry */
		bk->c[bk->n++] = 0;
}

/* Replaces layer L's weight by its quantized values with codes. */
static void
apply_book(ir_graph *g, const cmp_layer *L, const book *bk)
{
	int64_t n = ir_shape_numel(&L->w->shape);
	const float *x = L->w->data;
	double *v = nn_xmalloc((size_t)(n ? n : 1) * sizeof *v);
	uint8_t *codes = nn_alloc(g->weights, (size_t)(n ? n : 1));
	for (int64_t i = 0; i < n; i++) {
		int j = x[i] == 0 && bk->lo ? 0 : nearest(bk->c, bk->lo,
							   bk->n, x[i]);
		codes[i] = (uint8_t)j;
		v[i] = bk->c[j];
	}
	ir_value *nw = cmp_replace_weight(g, L->w, v);
	float *cb = nn_alloc_array(g->weights, (size_t)bk->n, sizeof *cb);
	memcpy(cb, bk->c, (size_t)bk->n * sizeof *cb);
	nw->ncodes = bk->n;
	nw->codebook = cb;
	nw->codes = codes;
	free(v);
}

/* Appends the non-zeros of L's f32 weight to *nz; true if it has zeros. */
static bool
gather_nonzero(const cmp_layer *L, float **nz, int64_t *cnt, int64_t *cap)
{
	int64_t n = ir_shape_numel(&L->w->shape);
	const float *x = L->w->data;
	bool zero = false;
	for (int64_t i = 0; i < n; i++) {
		if (x[i] == 0) {
			zero = true;
			continue;
		}
		if (*cnt == *cap)
			*nz = nn_xrealloc(*nz, (size_t)(*cap = *cap * 2 + 64) *
					  sizeof **nz);
		(*nz)[(*cnt)++] = x[i];
	}
	return zero;
}

typedef struct share_opts {
	int k, iters;
	bool global;
	uint64_t seed;
} share_opts;

static bool
read_opts(const pass_opts *o, share_opts *s, nn_diag *d)
{
	static const char *const keys[] = { "k", "scope", "seed", "iters",
					    NULL };
	bool ok = pass_opts_allow(o, "share-weights", keys, d);
	const char *scope = pass_opt_str(o, "scope", "layer");
	int64_t k = pass_opt_i64(o, "share-weights", "k", 16, d, &ok);
	int64_t it = pass_opt_i64(o, "share-weights", "iters", 100, d, &ok);
	s->seed = (uint64_t)pass_opt_i64(o, "share-weights", "seed", 1, d,
					 &ok);
	s->global = strcmp(scope, "global") == 0;
	if (ok && !s->global && strcmp(scope, "layer") != 0) {
		nn_error(d, "pass 'share-weights': option 'scope': expected "
			 "layer or global, got '%s'", scope);
		return false;
	}
	if (ok && (k < 2 || k > IR_MAX_CODES)) {
		nn_error(d, "pass 'share-weights': k=%lld: a codebook has 2 "
			 "to %d entries (one is kept for pruned zeros)",
			 (long long)k, IR_MAX_CODES);
		return false;
	}
	if (ok && (it < 1 || it > 100000)) {
		nn_error(d, "pass 'share-weights': iters=%lld is not in "
			 "1..100000", (long long)it);
		return false;
	}
	s->k = (int)k;
	s->iters = (int)it;
	return ok;
}

bool
pass_share_weights(ir_graph *g, const pass_opts *o, nn_diag *d,
		   bool *changed)
{
	share_opts so;
	int nl;
	if (!read_opts(o, &so, d) || !cmp_check_data(g, "share-weights", d))
		return false;
	cmp_layer *L = cmp_weight_layers(g, &nl);
	if (!cmp_check_layers(nl, "share-weights", d)) {
		free(L);
		return false;
	}
	float *nz = NULL;
	int64_t cnt = 0, cap = 0;
	bool zero = false;
	book bk;
	for (int i = 0; i < nl; i++) {
		if (L[i].w->dtype != IR_F32) {
			nn_warn(d, "share-weights: layer '%s' has %s weights; "
				"only f32 is shared", cmp_layer_name(&L[i]),
				ir_dtype_name(L[i].w->dtype));
			L[i].w = NULL;
			continue;
		}
		if (!so.global)
			cnt = 0;
		bool z = gather_nonzero(&L[i], &nz, &cnt, &cap);
		zero |= z;
		if (so.global)
			continue;
		make_book(nz, cnt, z, so.k, so.seed, so.iters, &bk);
		apply_book(g, &L[i], &bk);
		*changed = true;
	}
	if (so.global && cnt + zero > 0) {
		make_book(nz, cnt, zero, so.k, so.seed, so.iters, &bk);
		for (int i = 0; i < nl; i++)
			if (L[i].w)
				apply_book(g, &L[i], &bk);
		*changed = true;
	}
	free(nz);
	free(L);
	return true;
}
