/* What the data-driven passes share (docs/compression.md): sample sets
 * for every graph input, the teacher (the graph before the first lossy
 * pass), running a graph over a set batch by batch with an observer, the
 * teacher node matching a student node, and the stage log of --report. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

int64_t
pass_data_batch(const ir_graph *g)
{
	const ir_shape *s = &g->inputs[0]->shape;
	return s->rank >= 1 && s->dim[0] >= 1 ? s->dim[0] : 1;
}

/* Bytes of one sample of input v at batch B. */
static size_t
sample_bytes(const ir_value *v, int64_t B)
{
	return (size_t)(ir_shape_numel(&v->shape) / B) *
	       ir_dtype_size(v->dtype);
}

bool
pass_data_check(const ir_graph *g, const pass_data *x, nn_diag *d)
{
	int64_t B = pass_data_batch(g);
	if (x->ninputs != g->ninputs) {
		nn_error(d, "%s: %d sample files for a model with %d inputs "
			 "(give one per graph input, in graph order)",
			 x->what, x->ninputs, g->ninputs);
		return false;
	}
	for (int i = 0; i < g->ninputs; i++) {
		const ir_value *v = g->inputs[i];
		const ir_shape *s = &x->shape[i];
		bool fit = x->dtype[i] == v->dtype && s->rank == v->shape.rank;
		for (int k = 1; fit && k < s->rank; k++)
			fit = s->dim[k] == v->shape.dim[k];
		if (!fit) {
			nn_error(d, "%s: file %d has %s samples of rank %d, not "
				 "those of input '%s' (%s, rank %d, the same "
				 "dimensions but the first)", x->what, i + 1,
				 ir_dtype_name(x->dtype[i]), s->rank,
				 ir_value_label(v), ir_dtype_name(v->dtype),
				 v->shape.rank);
			return false;
		}
		if (v->shape.rank < 1 || v->shape.dim[0] != B) {
			nn_error(d, "%s: input '%s' has no batch dimension "
				 "%lld to take samples along", x->what,
				 ir_value_label(v), (long long)B);
			return false;
		}
	}
	if (x->nsamples < 1 || x->nsamples % B) {
		nn_error(d, "%s: %lld samples is not a positive multiple of "
			 "the batch %lld", x->what, (long long)x->nsamples,
			 (long long)B);
		return false;
	}
	return true;
}

void
pass_data_inputs(const ir_graph *g, const pass_data *x, int64_t s0,
		 const void **in)
{
	int64_t B = pass_data_batch(g);
	(void)B;
	for (int i = 0; i < g->ninputs; i++)
		in[i] = (const char *)x->x[i] +
			(size_t)s0 * sample_bytes(g->inputs[i], B);
}

bool
pass_data_run(ir_graph *g, const pass_data *x, int64_t s0, void *const *out,
	      const ir_run_hook *hook, nn_diag *d)
{
	const void **in = nn_xcalloc((size_t)g->ninputs + 1, sizeof *in);
	pass_data_inputs(g, x, s0, in);
	bool ok = ir_run_hooked(g, in, out, hook, d);
	free(in);
	return ok;
}

void
pass_data_free(pass_data *x)
{
	for (int i = 0; x && i < x->ninputs; i++)
		free(x->owned ? x->owned[i] : NULL);
	if (x) {
		free(x->owned);
		free(x->x);
		free(x->dtype);
		free(x->shape);
		free(x->labels_owned);
		memset(x, 0, sizeof *x);
	}
}

void
pass_data_random(const ir_graph *g, int64_t nsamples, uint64_t seed,
		 pass_data *x)
{
	int64_t B = pass_data_batch(g);
	cmp_rng r = {seed};
	memset(x, 0, sizeof *x);
	x->ninputs = g->ninputs;
	x->nsamples = nsamples;
	x->x = nn_xcalloc((size_t)g->ninputs + 1, sizeof *x->x);
	x->owned = nn_xcalloc((size_t)g->ninputs + 1, sizeof *x->owned);
	x->dtype = nn_xcalloc((size_t)g->ninputs + 1, sizeof *x->dtype);
	x->shape = nn_xcalloc((size_t)g->ninputs + 1, sizeof *x->shape);
	x->what = "seeded random inputs";
	for (int i = 0; i < g->ninputs; i++) {
		const ir_value *v = g->inputs[i];
		x->dtype[i] = v->dtype;
		x->shape[i] = v->shape;
		if (v->shape.rank >= 1)
			x->shape[i].dim[0] = nsamples;
		size_t n = sample_bytes(v, B) / ir_dtype_size(v->dtype) *
			   (size_t)nsamples;
		void *p = nn_xcalloc(n ? n : 1, ir_dtype_size(v->dtype));
		for (size_t k = 0; v->dtype == IR_F32 && k < n; k++)
			((float *)p)[k] = (float)(2 * cmp_rng_unif(&r) - 1);
		x->owned[i] = p;
		x->x[i] = p;
	}
}

/* ------------------------------------------------------------------ */
/* The environment. */

pass_env *
pass_env_new(void)
{
	pass_env *e = nn_xcalloc(1, sizeof *e);
	e->tolerance = -1;
	e->refit = true;
	e->distill_t = 0;
	e->seed = 1;
	return e;
}

static void event_free(pass_event *ev);

void
pass_env_free(pass_env *e)
{
	if (!e)
		return;
	if (e->teacher)
		ir_graph_free(e->teacher);
	pass_data_free(&e->search);
	free(e->log);
	for (int i = 0; i < e->nevents; i++)
		event_free(&e->events[i]);
	free(e->events);
	free(e);
}

const pass_data *
pass_env_eval(const pass_env *e)
{
	return e->eval.ninputs ? &e->eval : &e->calib;
}

/* Calibration samples come from the training split, where the model is
 * sure of itself: pruned MNIST MLPs kept 99% top-1 agreement on them and
 * 95% on the test split. Mixtures lie nearer the decision boundaries,
 * where the agreement falls as it does on unseen data. MIX_W keeps the
 * first sample's class; it was measured (docs/compression.md): 0.8 was
 * too strict for small models, 0.9 too lenient for large ones. */
#define MIX_W 0.85f

/* The samples, then their mixtures (each batch a whole number of them). */
static void
mix_samples(const pass_data *c, uint64_t seed, pass_data *m)
{
	int64_t n = c->nsamples, *p = nn_xmalloc((size_t)n * sizeof *p);
	cmp_rng r = {seed};
	cmp_rng_perm(&r, p, n);
	*m = *c;
	m->nsamples = 2 * n;
	m->what = "--calib and mixtures of its samples";
	m->labels = m->labels_owned = NULL;
	m->x = nn_xcalloc((size_t)c->ninputs + 1, sizeof *m->x);
	m->owned = nn_xcalloc((size_t)c->ninputs + 1, sizeof *m->owned);
	m->dtype = nn_xmalloc(((size_t)c->ninputs + 1) * sizeof *m->dtype);
	m->shape = nn_xmalloc(((size_t)c->ninputs + 1) * sizeof *m->shape);
	for (int i = 0; i < c->ninputs; i++) {
		int64_t per = ir_shape_numel(&c->shape[i]) / n;
		const float *x = c->x[i];
		float *y = nn_xmalloc((size_t)(2 * n * per) * sizeof *y + 1);
		memcpy(y, x, (size_t)(n * per) * sizeof *y);
		for (int64_t s = 0; s < n; s++)
			for (int64_t k = 0; k < per; k++)
				y[(n + s) * per + k] = MIX_W * x[s * per + k] +
						       (1 - MIX_W) * x[p[s] * per + k];
		m->x[i] = m->owned[i] = y;
		m->dtype[i] = c->dtype[i];
		m->shape[i] = c->shape[i];
		m->shape[i].dim[0] = 2 * n;
	}
	free(p);
}

const pass_data *
pass_env_search(pass_env *e)
{
	const pass_data *c = &e->calib;
	bool f32 = c->ninputs > 0 && c->nsamples > 1;
	if (e->eval.ninputs || c->labels)
		return pass_env_eval(e);
	for (int i = 0; i < c->ninputs; i++)
		f32 = f32 && c->dtype[i] == IR_F32 && c->shape[i].rank >= 1;
	if (!f32)
		return c;
	if (!e->search.ninputs)
		mix_samples(c, e->seed, &e->search);
	return &e->search;
}

pass_env *
pass_need_data(const pass_opts *o, ir_graph *g, const char *pass,
	       nn_diag *d)
{
	pass_env *e = o ? o->env : NULL;
	if (!e || !e->calib.ninputs) {
		nn_error(d, "%s needs calibration data (nncc --calib X.npy, or "
			 "nncc-opt --calib X.npy)", pass);
		return NULL;
	}
	if (!pass_data_check(g, &e->calib, d))
		return NULL;
	if (!e->teacher) {
		nn_error(d, "%s: no uncompressed model to learn from (the "
			 "teacher is taken before the first lossy pass)", pass);
		return NULL;
	}
	return e;
}

static void
log_line(pass_env *e, const char *line)
{
	size_t n = strlen(line), have = e->log ? strlen(e->log) : 0;
	e->log = realloc(e->log, have + n + 2);
	NN_ASSERT(e->log);
	memcpy(e->log + have, line, n);
	e->log[have + n] = '\n';
	e->log[have + n + 1] = 0;
}

void
pass_env_record(pass_env *e, const char *kind, const char *layer,
		const pass_field *f, int nf, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (!e)
		return;
	NN_ASSERT(nf >= 0 && nf <= PASS_MAX_FIELDS);
	if (e->nevents == e->capevents) {
		e->capevents = e->capevents ? 2 * e->capevents : 16;
		e->events = realloc(e->events, (size_t)e->capevents *
				    sizeof *e->events);
		NN_ASSERT(e->events);
	}
	pass_event *ev = &e->events[e->nevents++];
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->layer = layer ? nn_xstrdup(layer) : NULL;
	ev->nfields = nf;
	for (int i = 0; i < nf; i++) {
		ev->field[i] = f[i];
		if (f[i].str)
			ev->field[i].str = nn_xstrdup(f[i].str);
	}
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ev->text = nn_xstrdup(line);
	log_line(e, line);
}

static void
event_free(pass_event *ev)
{
	free(ev->layer);
	free(ev->text);
	for (int i = 0; i < ev->nfields; i++)
		free((char *)ev->field[i].str);
}

pass_env_mark
pass_env_save(const pass_env *e)
{
	return (pass_env_mark){e->nevents, e->log ? strlen(e->log) : 0};
}

void
pass_env_rewind(pass_env *e, pass_env_mark m)
{
	while (e->nevents > m.nevents)
		event_free(&e->events[--e->nevents]);
	if (e->log)
		e->log[m.loglen] = 0;
}

/* The node of t at n's position in s, if the graphs have the same
 * length and it has n's op. */
static ir_node *
by_position(ir_graph *t, ir_graph *s, const ir_node *n)
{
	ir_node *a = s->first, *b = t->first;
	if (s->nnodes != t->nnodes)
		return NULL;
	for (; a && b && a != n; a = a->next, b = b->next)
		;
	return a && b && b->op == a->op ? b : NULL;
}

ir_node *
pass_teacher_node(const pass_env *e, ir_graph *student, const ir_node *n)
{
	ir_node *hit = NULL;
	int nhit = 0;
	if (!e->teacher)
		return NULL;
	for (ir_node *m = e->teacher->first; m && n->name; m = m->next)
		if (m->name && strcmp(m->name, n->name) == 0) {
			hit = m;
			nhit++;
		}
	if (nhit == 1)
		return hit;
	return by_position(e->teacher, student, n);
}
