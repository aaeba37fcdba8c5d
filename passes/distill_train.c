/* The trainer of distill: forward and backward passes of the head
 * (sgemm), the KD loss T^2 KL(softmax(t/T) || softmax(s/T)) and Adam.
 * Pruned zeros get no gradient, shared weights move through their
 * centroids (a zero centroid never moves), and the parameters with the
 * lowest loss over all calibration rows are the ones kept. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

enum { CHUNK = 256 };

static float
act_f(const cmp_kd_act *a, float x)
{
	switch (a->op) {
	case OP_Relu: return x < 0 ? 0 : x;
	case OP_LeakyRelu: return x < 0 ? a->a * x : x;
	case OP_Sigmoid:
		return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x));
	case OP_Tanh: return tanhf(x);
	case OP_Clip: x = x < a->a ? a->a : x; return x > a->b ? a->b : x;
	case OP_Elu: return x < 0 ? a->a * expm1f(x) : x;
	case OP_Softplus:
		return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
	case OP_HardSigmoid:
		x = a->a * x + a->b;
		return x < 0 ? 0 : x > 1 ? 1 : x;
	default: nn_unreachable();
	}
}

/* d act / dx at input x with output y. */
static float
act_d(const cmp_kd_act *a, float x, float y)
{
	switch (a->op) {
	case OP_Relu: return x > 0;
	case OP_LeakyRelu: return x < 0 ? a->a : 1;
	case OP_Sigmoid: return y * (1 - y);
	case OP_Tanh: return 1 - y * y;
	case OP_Clip: return x >= a->a && x <= a->b;
	case OP_Elu: return x < 0 ? y + a->a : 1;
	case OP_Softplus: return 1 / (1 + expf(-x));
	case OP_HardSigmoid: {
		float u = a->a * x + a->b;
		return u > 0 && u < 1 ? a->a : 0;
	}
	default: nn_unreachable();
	}
}

/* Layer L on rows a [n, in]: h holds nact + 1 blocks of [n, out], the
 * pre-activation first and the layer's output last. */
static void
layer_forward(const cmp_kd_layer *L, const float *a, int64_t n, float *h)
{
	int64_t m = L->out, sz = n * m;
	for (int64_t r = 0; r < n; r++)
		memcpy(h + r * m, L->b, (size_t)m * sizeof *h);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m,
		    (int)L->in, 1, a, (int)L->in, L->w, (int)L->in, 1, h,
		    (int)m);
	for (int j = 0; j < L->nact; j++)
		for (int64_t i = 0; i < sz; i++)
			h[(j + 1) * sz + i] = act_f(&L->act[j], h[j * sz + i]);
}

static float *
layer_out(const cmp_kd_layer *L, float *h, int64_t n)
{
	return h + L->nact * n * L->out;
}

/* Per-layer activation buffers for n rows. */
static float **
acts_new(const cmp_kd_head *h, int64_t n)
{
	float **a = nn_xcalloc((size_t)h->n, sizeof *a);
	for (int l = 0; l < h->n; l++)
		a[l] = nn_xmalloc((size_t)((h->l[l].nact + 1) * n *
					   h->l[l].out) * sizeof **a + 1);
	return a;
}

static void
acts_free(const cmp_kd_head *h, float **a)
{
	for (int l = 0; l < h->n; l++)
		free(a[l]);
	free(a);
}

static const float *
forward_into(const cmp_kd_head *h, const float *x, int64_t n, float **a)
{
	const float *in = x;
	for (int l = 0; l < h->n; l++) {
		layer_forward(&h->l[l], in, n, a[l]);
		in = layer_out(&h->l[l], a[l], n);
	}
	return in;
}

void
cmp_kd_forward(const cmp_kd_head *h, const float *x, int64_t n, float *y)
{
	float **a = acts_new(h, n);
	memcpy(y, forward_into(h, x, n, a),
	       (size_t)(n * h->classes) * sizeof *y);
	acts_free(h, a);
}

/* softmax(v / temp) into p (doubles); returns log of its normalizer
 * minus the max, so log p_c = v_c / temp - max - lse. */
static double
softmax_t(const float *v, int64_t c, double temp, double *p, double *mx)
{
	double m = -INFINITY, s = 0;
	for (int64_t i = 0; i < c; i++)
		m = fmax(m, v[i] / temp);
	for (int64_t i = 0; i < c; i++)
		s += (p[i] = exp(v[i] / temp - m));
	for (int64_t i = 0; i < c; i++)
		p[i] /= s;
	*mx = m;
	return log(s);
}

static int64_t
argmax(const float *v, int64_t c)
{
	int64_t k = 0;
	for (int64_t i = 1; i < c; i++)
		if (v[i] > v[k])
			k = i;
	return k;
}

/* KD loss of one row (student s, teacher t); with g, also its gradient
 * T (softmax(s/T) - softmax(t/T)) / scale into g. */
static double
row_loss(const float *s, const float *t, int64_t c, double temp, double *ps,
	 double *pt, float *g, double scale)
{
	double ms, mt, ls = softmax_t(s, c, temp, ps, &ms);
	double lt = softmax_t(t, c, temp, pt, &mt), kl = 0;
	for (int64_t i = 0; i < c; i++) {
		if (pt[i] > 0)
			kl += pt[i] * ((t[i] / temp - mt - lt) -
				       (s[i] / temp - ms - ls));
		if (g)
			g[i] = (float)(temp * (ps[i] - pt[i]) / scale);
	}
	return temp * temp * (kl > 0 ? kl : 0);
}

double
cmp_kd_loss(const cmp_kd_head *h, double temp, double *agree)
{
	int64_t c = h->classes, k0 = h->l[0].in, same = 0;
	float *y = nn_xmalloc((size_t)(CHUNK * c) * sizeof *y);
	double *ps = nn_xmalloc((size_t)c * sizeof *ps);
	double *pt = nn_xmalloc((size_t)c * sizeof *pt), loss = 0;
	float **a = acts_new(h, CHUNK);
	for (int64_t r0 = 0; r0 < h->rows; r0 += CHUNK) {
		int64_t n = h->rows - r0 < CHUNK ? h->rows - r0 : CHUNK;
		memcpy(y, forward_into(h, h->x + r0 * k0, n, a),
		       (size_t)(n * c) * sizeof *y);
		for (int64_t r = 0; r < n; r++) {
			const float *t = h->t + (r0 + r) * c;
			loss += row_loss(y + r * c, t, c, temp, ps, pt, NULL, 1);
			same += argmax(y + r * c, c) == argmax(t, c);
		}
	}
	acts_free(h, a);
	free(y);
	free(ps);
	free(pt);
	*agree = (double)same / (double)h->rows;
	return loss / (double)h->rows;
}

/* ------------------------------------------------------------------ */
/* Training state. */

typedef struct adam {
	float *m, *v;
	int64_t n;
} adam;

typedef struct trainer {
	const cmp_kd_head *h;
	const cmp_kd_opts *o;
	int64_t bsz;
	float **a;       /* activations of one batch */
	float **gout;    /* per layer: gradient at its output [bsz, out] */
	float **gw;      /* per layer: gradient of w [out, in] */
	float **gb;      /* per layer: gradient of b [out] */
	float *gc;       /* centroid gradients [IR_MAX_CODES] */
	adam *aw, *ab;   /* per layer: weights (or centroids), biases */
	float *xb, *tb;  /* the batch's inputs and teacher logits */
	double *ps, *pt;
	float **best_p, **best_b; /* best weights (or centroids), biases */
	int64_t step;
} trainer;

static int64_t
nparams(const cmp_kd_layer *L)
{
	return L->ncodes ? L->ncodes : L->out * L->in;
}

static float *
params(cmp_kd_layer *L)
{
	return L->ncodes ? L->cb : L->w;
}

static void
adam_init(adam *s, int64_t n)
{
	s->n = n;
	s->m = nn_xcalloc((size_t)n + 1, sizeof *s->m);
	s->v = nn_xcalloc((size_t)n + 1, sizeof *s->v);
}

static void
trainer_init(trainer *tr, const cmp_kd_head *h, const cmp_kd_opts *o)
{
	int n = h->n;
	memset(tr, 0, sizeof *tr);
	tr->h = h;
	tr->o = o;
	tr->bsz = o->batch < h->rows ? o->batch : h->rows;
	tr->a = acts_new(h, tr->bsz);
	tr->gout = nn_xcalloc((size_t)n, sizeof *tr->gout);
	tr->gw = nn_xcalloc((size_t)n, sizeof *tr->gw);
	tr->gb = nn_xcalloc((size_t)n, sizeof *tr->gb);
	tr->aw = nn_xcalloc((size_t)n, sizeof *tr->aw);
	tr->ab = nn_xcalloc((size_t)n, sizeof *tr->ab);
	tr->best_p = nn_xcalloc((size_t)n, sizeof *tr->best_p);
	tr->best_b = nn_xcalloc((size_t)n, sizeof *tr->best_b);
	for (int l = 0; l < n; l++) {
		const cmp_kd_layer *L = &h->l[l];
		int64_t np = nparams(L);
		tr->gout[l] = nn_xmalloc((size_t)(tr->bsz * L->out) * 4 + 4);
		tr->gw[l] = nn_xmalloc((size_t)(L->out * L->in) * 4 + 4);
		tr->gb[l] = nn_xmalloc((size_t)L->out * 4 + 4);
		tr->best_p[l] = nn_xmalloc((size_t)np * 4 + 4);
		tr->best_b[l] = nn_xmalloc((size_t)L->out * 4 + 4);
		adam_init(&tr->aw[l], np);
		adam_init(&tr->ab[l], L->out);
	}
	tr->gc = nn_xmalloc(IR_MAX_CODES * sizeof *tr->gc);
	tr->xb = nn_xmalloc((size_t)(tr->bsz * h->l[0].in) * 4 + 4);
	tr->tb = nn_xmalloc((size_t)(tr->bsz * h->classes) * 4 + 4);
	tr->ps = nn_xmalloc((size_t)h->classes * sizeof *tr->ps);
	tr->pt = nn_xmalloc((size_t)h->classes * sizeof *tr->pt);
}

static void
trainer_fini(trainer *tr)
{
	for (int l = 0; l < tr->h->n; l++) {
		free(tr->gout[l]);
		free(tr->gw[l]);
		free(tr->gb[l]);
		free(tr->best_p[l]);
		free(tr->best_b[l]);
		free(tr->aw[l].m);
		free(tr->aw[l].v);
		free(tr->ab[l].m);
		free(tr->ab[l].v);
	}
	acts_free(tr->h, tr->a);
	free(tr->gout);
	free(tr->gw);
	free(tr->gb);
	free(tr->aw);
	free(tr->ab);
	free(tr->best_p);
	free(tr->best_b);
	free(tr->gc);
	free(tr->xb);
	free(tr->tb);
	free(tr->ps);
	free(tr->pt);
}

/* Saves (or, with restore, puts back) every layer's parameters. */
static void
snapshot(trainer *tr, bool restore)
{
	for (int l = 0; l < tr->h->n; l++) {
		cmp_kd_layer *L = &tr->h->l[l];
		size_t np = (size_t)nparams(L) * sizeof(float);
		size_t nb = (size_t)L->out * sizeof(float);
		if (restore) {
			memcpy(params(L), tr->best_p[l], np);
			memcpy(L->b, tr->best_b[l], nb);
		} else {
			memcpy(tr->best_p[l], params(L), np);
			memcpy(tr->best_b[l], L->b, nb);
		}
	}
	for (int l = 0; restore && l < tr->h->n; l++) {
		cmp_kd_layer *L = &tr->h->l[l];
		for (int64_t i = 0; L->ncodes && i < L->out * L->in; i++)
			L->w[i] = L->cb[L->code[i]];
	}
}

/* Forward and backward over the batch in tr->xb/tb (n rows): the
 * gradients of every layer's w and b. Returns the batch's mean loss. */
static double
batch_grad(trainer *tr, int64_t n)
{
	const cmp_kd_head *h = tr->h;
	int64_t c = h->classes;
	int last = h->n - 1;
	const float *y = forward_into(h, tr->xb, n, tr->a);
	double loss = 0;
	for (int64_t r = 0; r < n; r++)
		loss += row_loss(y + r * c, tr->tb + r * c, c, tr->o->temp,
				 tr->ps, tr->pt, tr->gout[last] + r * c,
				 (double)n);
	for (int l = last; l >= 0; l--) {
		const cmp_kd_layer *L = &h->l[l];
		int64_t m = L->out, k = L->in, sz = n * m;
		float *g = tr->gout[l], *gb = tr->gb[l];
		for (int j = L->nact - 1; j >= 0; j--) {
			const float *hin = tr->a[l] + j * sz, *hout = hin + sz;
			for (int64_t i = 0; i < sz; i++)
				g[i] *= act_d(&L->act[j], hin[i], hout[i]);
		}
		const float *prev = l ? layer_out(&h->l[l - 1], tr->a[l - 1], n)
				      : tr->xb;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m,
			    (int)k, (int)n, 1, g, (int)m, prev, (int)k, 0,
			    tr->gw[l], (int)k);
		memset(gb, 0, (size_t)m * sizeof *gb);
		for (int64_t r = 0; r < n; r++)
			for (int64_t i = 0; i < m; i++)
				gb[i] += g[r * m + i];
		if (l)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    (int)n, (int)k, (int)m, 1, g, (int)m, L->w,
				    (int)k, 0, tr->gout[l - 1], (int)k);
	}
	return loss / (double)n;
}

static void
adam_step(adam *s, float *p, const float *g, double lr)
{
	for (int64_t i = 0; i < s->n; i++) {
		s->m[i] = 0.9f * s->m[i] + 0.1f * g[i];
		s->v[i] = 0.999f * s->v[i] + 0.001f * g[i] * g[i];
		p[i] -= (float)(lr * s->m[i] / (sqrt(s->v[i]) + 1e-8));
	}
}

/* One Adam step on every layer from the gradients of batch_grad. */
static void
update(trainer *tr)
{
	double t = (double)++tr->step;
	double lr = tr->o->lr * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
	for (int l = 0; l < tr->h->n; l++) {
		cmp_kd_layer *L = &tr->h->l[l];
		float *gw = tr->gw[l];
		int64_t nw = L->out * L->in;
		if (!L->ncodes) {
			for (int64_t i = 0; i < nw; i++)
				gw[i] *= L->mask[i];
			adam_step(&tr->aw[l], L->w, gw, lr);
		} else {
			memset(tr->gc, 0, IR_MAX_CODES * sizeof *tr->gc);
			for (int64_t i = 0; i < nw; i++)
				tr->gc[L->code[i]] += gw[i];
			for (int q = 0; q < L->ncodes; q++)
				if (L->cb[q] == 0 || L->book_fixed)
					tr->gc[q] = 0;
			adam_step(&tr->aw[l], L->cb, tr->gc, lr);
			for (int64_t i = 0; i < nw; i++)
				L->w[i] = L->cb[L->code[i]];
		}
		if (L->bias)
			adam_step(&tr->ab[l], L->b, tr->gb[l], lr);
	}
}


/* The next batch of rows (a seeded shuffle per pass over the rows) into
 * tr->xb and tr->tb. */
static void
next_batch(trainer *tr, int64_t *perm, int64_t *pos, cmp_rng *rng)
{
	const cmp_kd_head *h = tr->h;
	int64_t k0 = h->l[0].in, c = h->classes, n = h->rows;
	if (*pos + tr->bsz > n) {
		cmp_rng_perm(rng, perm, n);
		*pos = 0;
	}
	for (int64_t r = 0; r < tr->bsz; r++) {
		int64_t s = perm[*pos + r];
		memcpy(tr->xb + r * k0, h->x + s * k0, (size_t)k0 * 4);
		memcpy(tr->tb + r * c, h->t + s * c, (size_t)c * 4);
	}
	*pos += tr->bsz;
}

void
cmp_kd_train(cmp_kd_head *h, const cmp_kd_opts *o, cmp_kd_result *r)
{
	trainer tr;
	cmp_rng rng = {o->seed};
	int64_t *perm = nn_xmalloc((size_t)h->rows * sizeof *perm);
	int64_t pos = h->rows, step = 0, evaluated = 0;
	double ag, t0 = cmp_now();

	memset(r, 0, sizeof *r);
	trainer_init(&tr, h, o);
	double best = r->loss0 = cmp_kd_loss(h, o->temp, &r->agree0);
	int64_t epoch = (h->rows + tr.bsz - 1) / tr.bsz;
	snapshot(&tr, false);
	while (step < o->iters && best > 0) {
		if (cmp_now() - t0 > o->time) {
			r->timed_out = true;
			break;
		}
		next_batch(&tr, perm, &pos, &rng);
		batch_grad(&tr, tr.bsz);
		update(&tr);
		if (++step % epoch && step < o->iters)
			continue;
		double loss = cmp_kd_loss(h, o->temp, &ag);
		evaluated = step;
		nn_progress_detail("distill", "epoch %lld, step %lld of at "
				   "most %lld: KD loss %.4g",
				   (long long)(step / epoch), (long long)step,
				   (long long)o->iters, loss);
		if (loss < best) {
			best = loss;
			r->best = step;
			snapshot(&tr, false);
		}
	}
	if (evaluated < step && cmp_kd_loss(h, o->temp, &ag) < best) {
		r->best = step;
		snapshot(&tr, false);
	}
	snapshot(&tr, true);
	r->iters = step;
	r->seconds = cmp_now() - t0;
	r->loss1 = cmp_kd_loss(h, o->temp, &r->agree1);
	trainer_fini(&tr);
	free(perm);
}
