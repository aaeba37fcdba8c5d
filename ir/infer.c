/* Shape inference over a whole graph: the kind hooks type every node
 * output, and nodes whose inputs are all known are evaluated so that
 * data-dependent shapes downstream (Reshape targets) resolve statically. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Outputs bigger than this are not evaluated during inference: shape
 * chains are tiny, and folding big tensors is const-fold's decision. */
#define FOLD_MAX_ELEMS ((int64_t)1 << 24)

static bool
check_arity(const ir_node *n, nn_diag *d)
{
	const ir_op_info *op = &ir_ops[n->op];
	if (n->nin < op->min_in || (op->max_in >= 0 && n->nin > op->max_in)) {
		nn_error_node(d, n, "%d inputs, expected %d to %d", n->nin,
			      op->min_in, op->max_in);
		return false;
	}
	if (n->nout < op->min_out ||
	    (op->max_out >= 0 && n->nout > op->max_out)) {
		nn_error_node(d, n, "%d outputs, expected %d to %d", n->nout,
			      op->min_out, op->max_out);
		return false;
	}
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && n->in[i]->dtype == IR_UNDEF) {
			nn_error_node(d, n, "input %d ('%s') has no type", i,
				      ir_value_label(n->in[i]));
			return false;
		}
	return true;
}

static bool
check_output(const ir_node *n, int i, nn_diag *d)
{
	const ir_value *v = n->out[i];
	char buf[160];
	if (v->dtype == IR_UNDEF || ir_dtype_size(v->dtype) == 0) {
		nn_error_node(d, n, "output %d has no element type", i);
		return false;
	}
	for (int k = 0; k < v->shape.rank; k++)
		if (v->shape.dim[k] < 0) {
			ir_shape_str(&v->shape, buf, sizeof buf);
			nn_error_node(d, n, "output %d has an unknown dimension "
				      "%s (pin it with --input-shape)", i, buf);
			return false;
		}
	if (v->shape.rank < 0 || v->shape.rank > IR_MAX_RANK ||
	    ir_shape_numel(&v->shape) < 0) {
		ir_shape_str(&v->shape, buf, sizeof buf);
		nn_error_node(d, n, "output %d of shape %s is too large "
			      "(more than %lld elements)", i, buf,
			      (long long)IR_MAX_ELEMS);
		return false;
	}
	return true;
}

static bool
inputs_known(const ir_node *n)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && !n->in[i]->data)
			return false;
	return true;
}

bool
ir_fold_node(ir_graph *g, ir_node *n, nn_diag *d)
{
	void *out[n->nout > 0 ? n->nout : 1];
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		if (v && (v->data || ir_shape_numel(&v->shape) > FOLD_MAX_ELEMS))
			return true; /* Shape filled it, or too big to bother */
	}
	if (!inputs_known(n))
		return true;
	const void *in[n->nin > 0 ? n->nin : 1];
	for (int i = 0; i < n->nin; i++)
		in[i] = n->in[i] ? n->in[i]->data : NULL;
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		out[i] = NULL;
		if (v)
			out[i] = nn_alloc(g->weights,
					  (size_t)ir_shape_numel(&v->shape) *
						  ir_dtype_size(v->dtype));
	}
	if (!ir_eval_node(n, in, out, d))
		return false;
	for (int i = 0; i < n->nout; i++)
		if (n->out[i])
			n->out[i]->data = out[i];
	return true;
}

/* Inference in order from node `from`; the node it failed at is *failed
 * (if not NULL). */
static bool
infer(ir_graph *g, ir_node *from, nn_diag *d, ir_node **failed)
{
	ir_number_values(g); /* messages name unnamed values by number */
	for (ir_node *n = from; n; n = n->next) {
		while (n && n->op == OP_Loop && ir_loop_unrolls(n))
			n = ir_unroll_loop(g, n);
		if (!n)
			break;
		bool ok = check_arity(n, d);
		/* Data from an earlier run may be stale after a pass. */
		for (int i = 0; ok && i < n->nout; i++)
			if (n->out[i])
				n->out[i]->data = NULL;
		ir_shape_fn shape = ir_kinds[ir_ops[n->op].kind].shape;
		NN_ASSERT(shape);
		ok = ok && shape(g, n, d);
		for (int i = 0; ok && i < n->nout; i++)
			if (n->out[i] && !check_output(n, i, d))
				ok = false;
		if (!ok || !ir_fold_node(g, n, d)) {
			if (failed)
				*failed = n;
			return false;
		}
	}
	return true;
}

bool
ir_infer_shapes(ir_graph *g, nn_diag *d)
{
	return infer(g, g->first, d, NULL);
}

bool
ir_infer_shapes_from(ir_graph *g, ir_node *from, nn_diag *d)
{
	return infer(g, from, d, NULL);
}

/* On-demand binding (ir_infer_shapes_binding). The state of one search:
 * the graph's inputs as they were, their data, and which are needed. */
typedef struct binder {
	ir_graph *g;
	ir_graph *copy;  /* the last probe's graph, when loops (else g) */
	bool loops;
	int n;
	ir_value **in;
	const void *const *avail;
	bool *need;
	nn_diag quiet;
} binder;

/* Where and how inference failed: the node and its message (malloc'd). */
typedef struct outcome {
	ir_node *node; /* NULL: it succeeded */
	int index;     /* its position in the graph (probes may copy it) */
	char *msg;
} outcome;

static bool
same_outcome(const outcome *a, const outcome *b)
{
	return a->index == b->index &&
	       (a->msg && b->msg ? !strcmp(a->msg, b->msg) : a->msg == b->msg);
}

/* Whether g or one of its subgraphs has a Loop, which inference may
 * unroll (ir_unroll_loop): a probe then runs on a copy, or data only
 * attached for the probe would be compiled in. */
static bool
has_loop(const ir_graph *g)
{
	for (const ir_node *n = g->first; n; n = n->next) {
		if (n->op == OP_Loop)
			return true;
		for (int i = 0; i < n->nattrs; i++)
			if (n->attrs[i].kind == IR_ATTR_GRAPH &&
			    has_loop(n->attrs[i].g))
				return true;
	}
	return false;
}

/* Runs inference quietly with the needed inputs' data attached (they stay
 * inputs); false if the messages cannot be captured. On a graph with a
 * Loop it runs on a copy (b->copy, kept for candidates()). */
static bool
probe(binder *b, outcome *o)
{
	size_t len;
	o->node = NULL;
	o->msg = NULL;
	b->quiet.out = open_memstream(&o->msg, &len);
	if (!b->quiet.out)
		return false;
	ir_graph *g = b->g;
	if (b->loops) {
		ir_graph_free(b->copy);
		g = b->copy = ir_graph_clone(b->g);
	}
	for (int i = 0; i < b->n; i++)
		g->inputs[i]->data = b->need[i] ? (void *)b->avail[i] : NULL;
	if (infer(g, g->first, &b->quiet, &o->node))
		o->node = NULL;
	o->index = -1;
	if (o->node) {
		o->index = 0;
		for (ir_node *m = g->first; m != o->node; m = m->next)
			o->index++;
	}
	fclose(b->quiet.out);
	return true;
}

/* Marks in *cand the inputs with data that n depends on and that are not
 * needed yet; returns how many. Walks back from n: a node feeds n when
 * one of its outputs is an operand of n or of a node that feeds n. */
static int
candidates(binder *b, ir_node *n, bool *cand)
{
	int cap = 64, len = 0, k = 0;
	const ir_value **set = nn_xmalloc(sizeof *set * (size_t)cap);
	for (ir_node *m = n; m; m = m->prev) {
		bool feeds = m == n;
		for (int o = 0; !feeds && o < m->nout; o++)
			for (int j = 0; !feeds && j < len; j++)
				feeds = m->out[o] && set[j] == m->out[o];
		for (int i = 0; feeds && i < m->nin; i++) {
			if (len == cap)
				set = nn_xrealloc(set, sizeof *set *
						  (size_t)(cap *= 2));
			set[len++] = m->in[i];
		}
	}
	for (int i = 0; i < b->n; i++) {
		cand[i] = false;
		const ir_value *in = b->loops ? b->copy->inputs[i] : b->in[i];
		for (int j = 0; j < len && b->avail[i] && !b->need[i]; j++)
			cand[i] |= set[j] == in;
		k += cand[i];
	}
	free(set);
	return k;
}

/* Whether inference with the needed inputs ends otherwise than in *was
 * (passing its node, or failing there for another reason: the data showed
 * a real error, such as a training-mode Dropout). */
static bool
changes(binder *b, const outcome *was)
{
	outcome o;
	bool ch = probe(b, &o) && !same_outcome(&o, was);
	free(o.msg);
	return ch;
}

/* Needs the fewest candidates that change the outcome *was: all of them,
 * then each dropped again if the outcome still changes without it. False
 * if even all of them do not change it. */
static bool
need_some(binder *b, const outcome *was, const bool *cand)
{
	for (int i = 0; i < b->n; i++)
		b->need[i] |= cand[i];
	if (!changes(b, was)) {
		for (int i = 0; i < b->n; i++)
			b->need[i] &= !cand[i];
		return false;
	}
	for (int i = 0; i < b->n; i++) {
		if (!cand[i])
			continue;
		b->need[i] = false;
		b->need[i] = !changes(b, was);
	}
	return true;
}

bool
ir_infer_shapes_binding(ir_graph *g, const void *const *avail, bool *frozen,
			nn_diag *d)
{
	binder b = {g, NULL, has_loop(g), g->ninputs, NULL, avail, NULL, *d};
	b.in = nn_xcalloc((size_t)b.n + 1, sizeof *b.in);
	b.need = nn_xcalloc((size_t)b.n + 1, sizeof *b.need);
	bool *cand = nn_xcalloc((size_t)b.n + 1, sizeof *cand);
	if (b.n) /* a graph without inputs has no array */
		memcpy(b.in, g->inputs, sizeof *b.in * (size_t)b.n);
	outcome o;
	while (probe(&b, &o) && o.node && candidates(&b, o.node, cand) > 0 &&
	       need_some(&b, &o, cand))
		free(o.msg);
	free(o.msg);
	ir_graph_free(b.copy);
	for (int i = 0; i < b.n; i++) {
		b.in[i]->data = NULL;
		frozen[i] = b.need[i];
		if (b.need[i])
			ir_freeze_input(g, b.in[i], avail[i]);
	}
	free(b.in);
	free(b.need);
	free(cand);
	return ir_infer_shapes(g, d); /* the messages, if it still fails */
}
