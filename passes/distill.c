/* distill: knowledge distillation with temperature. The trailing
 * fully-connected layers (the head: Gemm/MatMul with constant weights and
 * elementwise activations between them, up to output 0, before a final
 * Softmax/LogSoftmax) are tuned by Adam on T^2 KL(teacher || student) at
 * temperature T over the calibration inputs, the uncompressed model as
 * teacher, no labels. Masks and codes stay fixed (distill_train.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "opt_util.h"

static bool
passthrough(const ir_node *n)
{
	return n->op == OP_Identity || n->op == OP_Dropout;
}

/* The value output 0 is a softmax (or a copy) of: the logits. */
static ir_value *
logits_of(ir_graph *g)
{
	ir_value *v = g->noutputs ? g->outputs[0] : NULL;
	while (v && v->def && v == v->def->out[0] && v->def->in[0] &&
	       (v->def->op == OP_Softmax || v->def->op == OP_LogSoftmax ||
		passthrough(v->def)))
		v = v->def->in[0];
	return v;
}

static bool
const_f32(const ir_value *v)
{
	return v && ir_is_const(v) && v->data && v->dtype == IR_F32;
}

/* n as an activation of the head (its parameters in a), or false. */
static bool
head_act(const ir_node *n, cmp_kd_act *a)
{
	a->op = n->op;
	a->a = a->b = 0;
	if (n->in[0]->dtype != IR_F32)
		return false;
	switch (n->op) {
	case OP_Relu: case OP_Sigmoid: case OP_Tanh: case OP_Softplus:
		return true;
	case OP_LeakyRelu: a->a = (float)ir_attr_f(n, "alpha"); return true;
	case OP_Elu: a->a = (float)ir_attr_f(n, "alpha"); return true;
	case OP_HardSigmoid:
		a->a = (float)ir_attr_f(n, "alpha");
		a->b = (float)ir_attr_f(n, "beta");
		return true;
	case OP_Clip:
		a->a = -INFINITY;
		a->b = INFINITY;
		for (int i = 1; i < n->nin && i < 3; i++) {
			if (n->in[i] && !const_f32(n->in[i]))
				return false;
			if (n->in[i])
				*(i == 1 ? &a->a : &a->b) =
					((const float *)n->in[i]->data)[0];
		}
		return true;
	default:
		return false;
	}
}

/* Whether n is a fully-connected layer the head can hold. */
static bool
head_fc(const ir_node *n)
{
	const ir_value *w = n->nin > 1 ? n->in[1] : NULL;
	if ((n->op != OP_Gemm && n->op != OP_MatMul) || !const_f32(w) ||
	    w->shape.rank != 2 || n->in[0]->dtype != IR_F32)
		return false;
	if (n->op == OP_Gemm && ir_attr_i(n, "transA"))
		return false;
	return n->nin < 3 || !n->in[2] || const_f32(n->in[2]);
}

/* The head's nodes in network order (first a layer) into nodes (room for
 * g->nnodes); returns how many, 0 if there is no head. */
static int
find_head(ir_graph *g, ir_node **nodes)
{
	ir_value *v = logits_of(g);
	int n = 0, first = -1;
	cmp_kd_act a;
	while (v && v->def && v == v->def->out[0] && n < g->nnodes) {
		ir_node *d = v->def;
		if (!head_fc(d) && !head_act(d, &a) && !passthrough(d))
			break;
		if (head_fc(d))
			first = n;
		nodes[n++] = d;
		v = d->in[0];
	}
	n = first + 1; /* activations before the first layer are not in it */
	for (int i = 0; i < n / 2; i++) {
		ir_node *t = nodes[i];
		nodes[i] = nodes[n - 1 - i];
		nodes[n - 1 - i] = t;
	}
	return n;
}

/* Loads layer L from node n (its view in cl); false after reporting a
 * bias refit cannot hold. */
static bool
load_layer(ir_graph *g, cmp_kd_layer *L, const cmp_layer *cl, nn_diag *d)
{
	const ir_value *w = cl->w;
	ir_node *n = cl->n;
	int64_t m = cl->rows, k = cl->cols;
	memset(L, 0, sizeof *L);
	L->cl = *cl;
	L->in = k;
	L->out = m;
	L->alpha = n->op == OP_Gemm ? (float)ir_attr_f(n, "alpha") : 1;
	L->beta = n->op == OP_Gemm ? (float)ir_attr_f(n, "beta") : 1;
	L->bias = n->nin > 2 ? n->in[2] : NULL;
	int64_t nb = L->bias ? ir_shape_numel(&L->bias->shape) : 0;
	if (L->bias && ((nb != m && nb != 1) || L->beta == 0)) {
		nn_error(d, "distill: layer '%s': its bias is not one value per "
			 "output", cmp_layer_name(cl));
		return false;
	}
	L->w = nn_xmalloc((size_t)(m * k) * sizeof *L->w + 1);
	L->b = nn_xcalloc((size_t)m + 1, sizeof *L->b);
	L->mask = nn_xmalloc((size_t)(m * k) + 1);
	for (int64_t r = 0; r < m; r++) {
		for (int64_t c = 0; c < k; c++) {
			float x = ((const float *)w->data)[cmp_at(cl, r, c)];
			L->w[r * k + c] = L->alpha * x;
			L->mask[r * k + c] = x != 0;
		}
		if (L->bias)
			L->b[r] = L->beta * ((const float *)L->bias->data)
				  [nb == 1 ? 0 : r];
	}
	if (w->ncodes && w->codes) {
		L->ncodes = w->ncodes;
		L->cb = nn_xmalloc((size_t)w->ncodes * sizeof *L->cb);
		for (int q = 0; q < w->ncodes; q++)
			L->cb[q] = L->alpha * w->codebook[q];
		L->code = nn_xmalloc((size_t)(m * k) + 1);
		for (int64_t i = 0; i < m * k; i++)
			L->code[i] = w->codes[cmp_at(cl, i / k, i % k)];
		L->book_fixed = cmp_book_shared(g, w);
	}
	return true;
}

static void
head_free(cmp_kd_head *h)
{
	for (int l = 0; l < h->n; l++) {
		free(h->l[l].w);
		free(h->l[l].b);
		free(h->l[l].mask);
		free(h->l[l].cb);
		free(h->l[l].code);
	}
	free(h->l);
	free(h->x);
	free(h->t);
	memset(h, 0, sizeof *h);
}

/* The layers of the head from its nodes; activations go to the layer
 * before them. */
static bool
build_head(ir_graph *g, ir_node **nodes, int nn, cmp_kd_head *h, nn_diag *d)
{
	int ncl;
	cmp_layer *cl = cmp_weight_layers(g, &ncl);
	bool ok = true;
	h->l = nn_xcalloc((size_t)nn, sizeof *h->l);
	for (int i = 0; i < nn && ok; i++) {
		cmp_kd_layer *L = h->n ? &h->l[h->n - 1] : NULL;
		if (passthrough(nodes[i]))
			continue;
		if (!head_fc(nodes[i])) {
			if (L->nact == CMP_KD_MAX_ACTS) {
				nn_error(d, "distill: more than %d activations "
					 "after layer '%s'", CMP_KD_MAX_ACTS,
					 cmp_layer_name(&L->cl));
				ok = false;
			} else
				head_act(nodes[i], &L->act[L->nact++]);
			continue;
		}
		int j = 0;
		while (j < ncl && cl[j].n != nodes[i])
			j++;
		ok = j < ncl && load_layer(g, &h->l[h->n], &cl[j], d);
		h->n += ok;
		if (ok && L && L->out != h->l[h->n - 1].in) {
			nn_error(d, "distill: layer '%s' takes %lld features "
				 "from a layer with %lld outputs",
				 cmp_layer_name(&cl[j]),
				 (long long)h->l[h->n - 1].in,
				 (long long)L->out);
			ok = false;
		}
	}
	free(cl);
	if (ok && h->n)
		h->classes = h->l[h->n - 1].out;
	return ok && h->n;
}

/* Observer: copies the head's input (the first layer's input 0) and the
 * logits (the output of node `last`), then stops the run. */
typedef struct capture {
	const ir_node *first, *last;
	float *x, *y;        /* where this batch's rows go */
	size_t xbytes, ybytes;
} capture;

static bool
capture_fn(void *ctx, const ir_node *n, const void *const *in,
	   const void *const *out)
{
	capture *c = ctx;
	if (n == c->first && c->x)
		memcpy(c->x, in[0], c->xbytes);
	if (n != c->last)
		return true;
	memcpy(c->y, out[0], c->ybytes);
	return false;
}

/* Runs g over the calibration set: the head's inputs into h->x (if
 * first) and the logits (the output of `last`) into y. */
static bool
run_capture(ir_graph *g, pass_env *e, const ir_node *first,
	    const ir_node *last, float *x, float *y, nn_diag *d)
{
	int64_t B = pass_data_batch(g), nb = e->calib.nsamples / B;
	capture c = {first, last, x, y, 0, 0};
	ir_run_hook hook = {capture_fn, &c};
	c.xbytes = first ? (size_t)ir_shape_numel(&first->in[0]->shape) * 4 : 0;
	c.ybytes = (size_t)ir_shape_numel(&last->out[0]->shape) * 4;
	for (int64_t b = 0; b < nb; b++) {
		nn_progress_detail("distill", "calibration sample %lld of %lld",
				   (long long)(b * B) + 1,
				   (long long)e->calib.nsamples);
		if (!pass_data_run(g, &e->calib, b * B, NULL, &hook, d))
			return false;
		c.x = x ? (float *)((char *)c.x + c.xbytes) : NULL;
		c.y = (float *)((char *)c.y + c.ybytes);
	}
	return true;
}

/* The head's inputs and the teacher's logits on the calibration set;
 * false after reporting. *rel gets how far the head's own forward pass
 * is from the interpreter's logits (relative to their largest). */
static bool
gather(ir_graph *g, pass_env *e, cmp_kd_head *h, const ir_node *first,
       const ir_node *last, double *rel, nn_diag *d)
{
	ir_value *tl = logits_of(e->teacher);
	const ir_value *sl = last->out[0];
	int64_t nb = e->calib.nsamples / pass_data_batch(g);
	int64_t ny = ir_shape_numel(&sl->shape), nx =
		ir_shape_numel(&first->in[0]->shape);
	if (!tl || !tl->def || !ir_shape_eq(&tl->shape, &sl->shape)) {
		nn_error(d, "distill: the teacher's logits do not have the "
			 "shape of model '%s''s", g->name);
		return false;
	}
	if (nx / h->l[0].in != ny / h->classes) {
		nn_error(d, "distill: the head of model '%s' does not map rows "
			 "to rows", g->name);
		return false;
	}
	h->rows = nb * (ny / h->classes);
	h->x = nn_xmalloc((size_t)(nb * nx) * 4 + 4);
	h->t = nn_xmalloc((size_t)(nb * ny) * 4 + 4);
	float *ys = nn_xmalloc((size_t)(nb * ny) * 4 + 4);
	bool ok = run_capture(e->teacher, e, NULL, tl->def, NULL, h->t, d) &&
		  run_capture(g, e, first, last, h->x, ys, d);
	int64_t n = h->rows < 256 ? h->rows : 256;
	float *yh = nn_xmalloc((size_t)(n * h->classes) * 4 + 4);
	double err = 0, mx = 1e-12;
	if (ok)
		cmp_kd_forward(h, h->x, n, yh);
	for (int64_t i = 0; ok && i < n * h->classes; i++) {
		err = fmax(err, fabs((double)yh[i] - ys[i]));
		mx = fmax(mx, fabs((double)ys[i]));
	}
	*rel = err / mx;
	free(yh);
	free(ys);
	return ok;
}

/* Writes layer L back: a new weight (keeping its codes) and bias. */
static void
store_layer(ir_graph *g, cmp_kd_layer *L)
{
	ir_value *w = L->cl.w;
	int64_t numel = ir_shape_numel(&w->shape), k = L->in;
	double *v = nn_xmalloc((size_t)numel * sizeof *v + 1);
	int ncodes = w->ncodes;
	uint8_t *codes = w->codes;
	float *cb = NULL;
	if (ncodes) {
		cb = nn_alloc_array(g->weights, (size_t)ncodes, sizeof *cb);
		for (int q = 0; q < ncodes; q++) {
			cb[q] = L->cb[q] / L->alpha;
			if (cb[q] == 0) /* a live centroid must not die */
				cb[q] = w->codebook[q];
		}
		for (int64_t i = 0; i < numel; i++)
			v[i] = cb[codes[i]];
	} else {
		for (int64_t i = 0; i < L->out * k; i++)
			v[cmp_at(&L->cl, i / k, i % k)] = L->w[i] / L->alpha;
	}
	ir_value *nw = cmp_replace_weight(g, w, v);
	if (ncodes) {
		nw->ncodes = ncodes;
		nw->codebook = cb;
		nw->codes = codes;
	}
	if (L->bias) {
		ir_shape s = L->bias->shape;
		if (ir_shape_numel(&s) != L->out)
			s = (ir_shape){.rank = 1, .dim = {L->out}};
		for (int64_t r = 0; r < L->out; r++)
			v[r] = L->b[r] / L->beta;
		L->cl.n->in[2] = pass_const_f64(g, L->bias->dtype, &s, v);
	}
	free(v);
}

/* The pass options, checked. */
static bool
get_opts(const pass_opts *o, const pass_env *e, cmp_kd_opts *k, nn_diag *d)
{
	static const char *const keys[] = {"t", "iters", "lr", "batch", "seed",
					   "time", NULL};
	bool ok = pass_opts_allow(o, "distill", keys, d);
	double t0 = e && e->distill_t > 0 ? e->distill_t : 4;
	k->temp = pass_opt_f64(o, "distill", "t", t0, d, &ok);
	k->iters = pass_opt_i64(o, "distill", "iters", 3000, d, &ok);
	k->lr = pass_opt_f64(o, "distill", "lr", 0.001, d, &ok);
	k->batch = pass_opt_i64(o, "distill", "batch", 64, d, &ok);
	k->seed = (uint64_t)pass_opt_i64(o, "distill", "seed", 1, d, &ok);
	k->time = pass_opt_f64(o, "distill", "time", 20, d, &ok);
	if (ok && !(k->temp > 0 && k->lr > 0 && k->time > 0 &&
		    k->iters >= 0 && k->batch >= 1)) {
		nn_error(d, "distill: t, lr and time must be > 0, iters >= 0 "
			 "and batch >= 1 (got t=%g, lr=%g, time=%g, iters=%lld, "
			 "batch=%lld)", k->temp, k->lr, k->time,
			 (long long)k->iters, (long long)k->batch);
		ok = false;
	}
	return ok;
}

/* "fc1, fc2, fc3" into buf. */
static void
layer_names(const cmp_kd_head *h, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int l = 0; l < h->n && k < n; l++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s%s", l ? ", " : "",
				      cmp_layer_name(&h->l[l].cl),
				      h->l[l].book_fixed ? " (bias only: "
				      "codebook shared across layers)" : "");
}

static void
log_result(pass_env *e, const cmp_kd_head *h, const cmp_kd_opts *k,
	   const cmp_kd_result *r)
{
	char names[512];
	layer_names(h, names, sizeof names);
	pass_env_record(e, "distill", NULL,
			PASS_FIELDS(PF_NUM("layers", h->n),
				    PF_STR("layer_names", names),
				    PF_NUM("rows", (double)h->rows),
				    PF_NUM("temperature", k->temp)),
			"distill: %d layer%s tuned (%s) on %lld calibration "
			"rows, T=%g", h->n, h->n == 1 ? "" : "s", names,
			(long long)h->rows, k->temp);
	pass_env_record(e, "distill-result", NULL,
			PASS_FIELDS(PF_NUM("loss_before", r->loss0),
				    PF_NUM("loss_after", r->loss1),
				    PF_NUM("agreement_before", r->agree0),
				    PF_NUM("agreement_after", r->agree1),
				    PF_NUM("iterations", (double)r->iters),
				    PF_NUM("best_iteration", (double)r->best),
				    PF_BOOL("time_limit", r->timed_out),
				    PF_NUM("seconds", r->seconds)),
			"distill: KD loss %.4g -> %.4g, top-1 agreement with "
			"the teacher on --calib %.4f -> %.4f, %lld iterations%s "
			"(best at %lld), %.1f s", r->loss0, r->loss1, r->agree0,
			r->agree1, (long long)r->iters, r->timed_out ?
			" (time limit)" : "", (long long)r->best, r->seconds);
}

bool
pass_distill(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	cmp_kd_opts k;
	cmp_kd_head h = {0};
	cmp_kd_result r;
	pass_env *e = o ? o->env : NULL;
	double rel = 0;

	if (!get_opts(o, e, &k, d) || !(e = pass_need_data(o, g, "distill", d))
	    || !cmp_check_data(g, "distill", d))
		return false;
	ir_node **nodes = nn_xcalloc((size_t)g->nnodes + 1, sizeof *nodes);
	int nn = find_head(g, nodes);
	bool ok = nn > 0;
	if (!ok)
		nn_error(d, "distill: no fully-connected head in model '%s' "
			 "(output 0, or the input of its final Softmax, must "
			 "come from Gemm/MatMul layers with constant f32 "
			 "weights, with elementwise activations between them)",
			 g->name ? g->name : "");
	ok = ok && build_head(g, nodes, nn, &h, d) &&
	     gather(g, e, &h, nodes[0], nodes[nn - 1], &rel, d);
	if (ok && rel > 1e-3) {
		nn_warn(d, "distill: the head's own evaluation differs from the "
			"interpreter's by %.3g (relative); model '%s' left as it "
			"is", rel, g->name ? g->name : "");
	} else if (ok) {
		cmp_kd_train(&h, &k, &r);
		log_result(e, &h, &k, &r);
		for (int l = 0; r.best > 0 && l < h.n; l++)
			store_layer(g, &h.l[l]);
		*changed = r.best > 0;
	}
	head_free(&h);
	free(nodes);
	return ok;
}
