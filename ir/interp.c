/* The reference interpreter: runs a shape-inferred graph node by node with
 * the kinds' eval hooks. It is the oracle for codegen and the passes. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

bool
ir_eval_node(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	ir_eval_fn eval = ir_kinds[ir_ops[n->op].kind].eval;
	NN_ASSERT(eval);
	return eval(n, in, out, d);
}

/* Per-value state, indexed by the ids of ir_number_values. */
typedef struct slot {
	const void *buf;
	void *owned;  /* malloc'd here; freed after the last use */
	ir_node *last; /* the last node reading it */
	bool keep;    /* a graph output: lives to the end */
} slot;

typedef struct run {
	ir_graph *g;
	slot *s;
	int nslots;
	const ir_run_hook *hook; /* or NULL */
	bool stopped;            /* the hook asked to stop */
	nn_diag *d;
} run;

static size_t
value_bytes(const ir_value *v)
{
	return (size_t)ir_shape_numel(&v->shape) * ir_dtype_size(v->dtype);
}

static int
count_slots(ir_graph *g)
{
	int max = -1;
	for (int i = 0; i < g->ninputs; i++)
		max = g->inputs[i]->id > max ? g->inputs[i]->id : max;
	for (int i = 0; i < g->nconsts; i++)
		max = g->consts[i]->id > max ? g->consts[i]->id : max;
	for (int i = 0; i < g->noutputs; i++)
		max = g->outputs[i]->id > max ? g->outputs[i]->id : max;
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nout; i++)
			if (n->out[i] && n->out[i]->id > max)
				max = n->out[i]->id;
	return max + 1;
}

/* The buffer holding v's value before node n runs, or NULL (reported). */
static const void *
operand(run *r, const ir_node *n, const ir_value *v)
{
	if (v->id >= 0 && v->id < r->nslots && r->s[v->id].buf)
		return r->s[v->id].buf;
	if (v->data)
		return v->data;
	if (v->elided)
		nn_error_node(r->d, n, "constant '%s' was elided from the IR "
			      "text and has no data; print the IR with "
			      "--print-weights to run it", ir_value_label(v));
	else
		nn_error_node(r->d, n, "input '%s' has no value",
			      ir_value_label(v));
	return NULL;
}

static bool
step(run *r, ir_node *n)
{
	const void *in[n->nin > 0 ? n->nin : 1];
	void *out[n->nout > 0 ? n->nout : 1];
	for (int i = 0; i < n->nin; i++) {
		in[i] = NULL;
		if (n->in[i] && !(in[i] = operand(r, n, n->in[i])))
			return false;
	}
	bool all_known = true;
	for (int i = 0; i < n->nout; i++)
		all_known &= !n->out[i] || n->out[i]->data != NULL;
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		out[i] = NULL;
		if (!v)
			continue;
		slot *s = &r->s[v->id];
		if (all_known) {
			/* Inference already computed it from constants. */
			s->buf = v->data;
			continue;
		}
		s->owned = nn_xcalloc(1, value_bytes(v));
		s->buf = out[i] = s->owned;
	}
	if (!all_known && !ir_eval_node(n, in, out, r->d))
		return false;
	if (r->hook) {
		const void *ob[n->nout > 0 ? n->nout : 1];
		for (int i = 0; i < n->nout; i++)
			ob[i] = n->out[i] ? r->s[n->out[i]->id].buf : NULL;
		r->stopped = !r->hook->fn(r->hook->ctx, n, in, ob);
	}
	/* Free operands whose last reader was n. */
	for (int i = 0; i < n->nin; i++) {
		ir_value *v = n->in[i];
		if (!v || v->id < 0 || v->id >= r->nslots)
			continue;
		slot *s = &r->s[v->id];
		if (s->last == n && !s->keep && s->owned) {
			free(s->owned);
			s->owned = NULL;
			s->buf = NULL;
		}
	}
	return true;
}

static void
setup(run *r, const void *const *inputs)
{
	ir_graph *g = r->g;
	for (int i = 0; i < g->ninputs; i++)
		r->s[g->inputs[i]->id].buf = inputs[i];
	for (int i = 0; i < g->noutputs; i++)
		r->s[g->outputs[i]->id].keep = true;
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++) {
			ir_value *v = n->in[i];
			if (v && v->id >= 0 && v->id < r->nslots)
				r->s[v->id].last = n;
		}
}

bool
ir_run(ir_graph *g, const void *const *inputs, void *const *outputs,
       nn_diag *d)
{
	return ir_run_hooked(g, inputs, outputs, NULL, d);
}

bool
ir_run_hooked(ir_graph *g, const void *const *inputs, void *const *outputs,
	      const ir_run_hook *hook, nn_diag *d)
{
	ir_number_values(g);
	run r = {g, NULL, count_slots(g), hook, false, d};
	r.s = nn_xcalloc((size_t)r.nslots, sizeof *r.s);
	setup(&r, inputs);
	bool ok = true;
	for (ir_node *n = g->first; n && ok && !r.stopped; n = n->next)
		ok = step(&r, n);
	for (int i = 0; i < g->noutputs && ok && !r.stopped; i++) {
		ir_value *v = g->outputs[i];
		const void *buf = r.s[v->id].buf ? r.s[v->id].buf : v->data;
		if (!buf) {
			nn_error(d, "output '%s' has no value%s",
				 ir_value_label(v),
				 v->elided ? " (an elided constant: print "
					     "the IR with --print-weights)"
					   : "");
			ok = false;
			break;
		}
		memcpy(outputs[i], buf, value_bytes(v));
	}
	for (int i = 0; i < r.nslots; i++)
		free(r.s[i].owned);
	free(r.s);
	return ok;
}
