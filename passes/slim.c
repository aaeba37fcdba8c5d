/* slim: removes whole layers and blocks under a fidelity tolerance.
 * Three rewrites (docs/compression.md):
 *  - merge: a Gemm/MatMul whose only reader is another one, nothing
 *    between them, becomes one layer (W2 W1, W2 b1 + b2) when that does
 *    not add weights; exact, so always done first;
 *  - block: an Add of a branch and its skip (the branch's input, or a
 *    1x1 Conv projection of it) becomes the skip;
 *  - layer: a hidden Gemm/MatMul with its activation goes, and the next
 *    layer reads the previous activation (its weight re-solved when the
 *    widths differ).
 * Blocks and layers are removed greedily: every candidate is tried on a
 * copy, refit (the layers from the removal on, to the teacher's outputs
 * on --calib) and measured against the teacher on the evaluation set;
 * the one that keeps the most top-1 agreement goes, while the agreement
 * stays at least 1 - tolerance. */
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "opt_util.h"

typedef enum slim_kind { SLIM_MERGE, SLIM_BLOCK, SLIM_LAYER } slim_kind;
static const char *const kind_names[] = {"layers", "block", "layer"};

/* A rewrite found at node n. */
typedef struct slim_match {
	slim_kind kind;
	ir_node *n;       /* merge: the first layer; block: the Add; layer:
			     the removed layer */
	ir_node *next;    /* merge: the second layer; layer: the next one */
	ir_node *act;     /* layer: the activation between */
	int skip;         /* block: the operand index of the skip */
	ir_node **branch; /* block: the branch's nodes (malloc'd) */
	int nbranch;
	int64_t params;   /* weights removed */
	char name[160];   /* for the report */
} slim_match;

static void
match_free(slim_match *m)
{
	free(m->branch);
	m->branch = NULL;
	m->nbranch = 0;
}

/* ------------------------------------------------------------------ */
/* Fully-connected layers. */

/* A Gemm (no transA, bias absent or one per output) or MatMul with a
 * constant 2-D weight on a 2-D input. */
static bool
fc_layer(const ir_node *n)
{
	if (n->op != OP_Gemm && n->op != OP_MatMul)
		return false;
	if (!n->in[0] || n->in[0]->shape.rank != 2 || !pass_has_data(n->in[1]) ||
	    n->in[1]->shape.rank != 2 || n->in[1]->dtype != IR_F32)
		return false;
	if (n->op == OP_MatMul)
		return true;
	int64_t outs = n->out[0]->shape.dim[1];
	const ir_value *c = n->nin > 2 ? n->in[2] : NULL;
	return !ir_attr_i(n, "transA") &&
	       (!c || (pass_has_data(c) && ir_shape_numel(&c->shape) == outs));
}

/* The layer's effective weight [outs, ins] row-major and bias [outs]
 * (alpha and beta applied); malloc'd. */
static void
fc_matrix(const ir_node *n, double **wp, double **bp)
{
	const ir_value *w = n->in[1];
	int64_t ins = n->in[0]->shape.dim[1], outs = n->out[0]->shape.dim[1];
	bool tb = n->op == OP_Gemm && ir_attr_i(n, "transB");
	double alpha = n->op == OP_Gemm ? ir_attr_f(n, "alpha") : 1;
	double beta = n->op == OP_Gemm ? ir_attr_f(n, "beta") : 1;
	double *a = nn_xmalloc((size_t)(ins * outs) * sizeof *a + 1);
	double *b = nn_xcalloc((size_t)outs + 1, sizeof *b);
	for (int64_t r = 0; r < outs; r++)
		for (int64_t c = 0; c < ins; c++)
			a[r * ins + c] = alpha * ir_load_f64(w->data, w->dtype,
					 tb ? r * ins + c : c * outs + r);
	if (n->nin > 2 && n->in[2])
		for (int64_t r = 0; r < outs; r++)
			b[r] = beta * ir_load_f64(n->in[2]->data,
						  n->in[2]->dtype, r);
	*wp = a;
	*bp = b;
}

static int64_t
fc_params(const ir_node *n)
{
	int64_t p = n->in[1]->nnz;
	if (n->nin > 2 && n->in[2])
		p += n->in[2]->nnz;
	return p;
}

/* v's only reader, when v is not a graph output either. */
static ir_node *
only_reader(const ir_graph *g, const ir_value *v)
{
	return v && !pass_is_output(g, v) ? pass_sole_user(v) : NULL;
}

static const char *
node_name(const ir_node *n)
{
	return n->name ? n->name : ir_value_label(n->out[0]);
}

static bool
match_merge(ir_graph *g, ir_node *n, slim_match *m)
{
	ir_node *u = fc_layer(n) ? only_reader(g, n->out[0]) : NULL;
	if (!u || !fc_layer(u) || u->in[0] != n->out[0] ||
	    u->in[1]->nuses != 1)
		return false;
	int64_t ins = n->in[0]->shape.dim[1], outs = u->out[0]->shape.dim[1];
	int64_t have = fc_params(n) + fc_params(u);
	if (ins * outs + outs > have)
		return false; /* the product would hold more weights */
	m->kind = SLIM_MERGE;
	m->n = n;
	m->next = u;
	m->params = have - ins * outs - outs;
	snprintf(m->name, sizeof m->name, "'%s' and '%s'", node_name(n),
		 node_name(u));
	return true;
}

static bool
match_layer(ir_graph *g, ir_node *n, slim_match *m)
{
	ir_node *a = fc_layer(n) ? only_reader(g, n->out[0]) : NULL;
	if (!a || ir_ops[a->op].kind != IR_KIND_UNARY || a->in[0] != n->out[0])
		return false;
	ir_node *u = only_reader(g, a->out[0]);
	if (!u || !fc_layer(u) || u->in[0] != a->out[0] ||
	    u->in[1]->nuses != 1)
		return false;
	int64_t ins = n->in[0]->shape.dim[1], mid = n->out[0]->shape.dim[1];
	int64_t outs = u->out[0]->shape.dim[1];
	m->kind = SLIM_LAYER;
	m->n = n;
	m->act = a;
	m->next = u;
	m->params = fc_params(n) + (mid - ins) * outs;
	snprintf(m->name, sizeof m->name, "'%s'", node_name(n));
	return true;
}

/* ------------------------------------------------------------------ */
/* Residual blocks. */

static bool
has_node(ir_node *const *set, int n, const ir_node *x)
{
	for (int i = 0; i < n; i++)
		if (set[i] == x)
			return true;
	return false;
}

/* The nodes that compute r from x alone (constants aside), into m;
 * false if r needs another value or x is never read. */
static bool
collect_branch(ir_value *r, const ir_value *x, slim_match *m)
{
	ir_value **work = nn_xmalloc(sizeof *work);
	int nwork = 1, cap = 1;
	bool reached = false, ok = true;
	work[0] = r;
	while (nwork && ok) {
		ir_value *v = work[--nwork];
		if (v == x) {
			reached = true;
			continue;
		}
		if (!v || ir_is_const(v))
			continue;
		if (v->is_input || m->nbranch >= 256) {
			ok = false;
			break;
		}
		if (has_node(m->branch, m->nbranch, v->def))
			continue;
		m->branch = nn_xrealloc(m->branch, sizeof *m->branch *
					(size_t)(m->nbranch + 1));
		m->branch[m->nbranch++] = v->def;
		for (int i = 0; i < v->def->nin; i++) {
			if (nwork == cap)
				work = nn_xrealloc(work, sizeof *work *
						   (size_t)(cap *= 2));
			work[nwork++] = v->def->in[i];
		}
	}
	free(work);
	return ok && reached;
}

/* Whether the branch's values are read only inside it and by the Add. */
static bool
branch_closed(const ir_graph *g, const slim_match *m)
{
	for (int i = 0; i < m->nbranch; i++) {
		const ir_node *b = m->branch[i];
		for (int k = 0; k < b->nout; k++) {
			const ir_value *v = b->out[k];
			if (v && pass_is_output(g, v))
				return false;
			for (int u = 0; v && u < v->nuses; u++) {
				const ir_node *r = v->uses[u].node;
				if (r != m->n && !has_node(m->branch,
							   m->nbranch, r))
					return false;
			}
		}
	}
	return true;
}

/* s is a 1x1 Conv of some x: that x; else NULL. */
static ir_value *
projected(const ir_value *s)
{
	const ir_node *p = s->def;
	if (!p || p->op != OP_Conv || !pass_has_data(p->in[1]))
		return NULL;
	const ir_shape *w = &p->in[1]->shape;
	for (int i = 2; i < w->rank; i++)
		if (w->dim[i] != 1)
			return NULL;
	return p->in[0];
}

/* The name blocks are known by: the longest common prefix of its nodes'
 * names, cut to its last path component ("/layer2/layer2.1/conv1/Conv"
 * and "/layer2/layer2.1/Add" give "layer2.1"); else the Add's name. */
static void
block_name(const slim_match *m)
{
	char *out = (char *)m->name;
	const char *a = m->n->name;
	size_t len = a ? strlen(a) : 0;
	for (int i = 0; i < m->nbranch && len; i++) {
		const char *b = m->branch[i]->name;
		size_t k = 0;
		while (b && k < len && b[k] == a[k])
			k++;
		len = k;
	}
	char buf[160];
	snprintf(buf, sizeof buf, "%.*s", (int)len, a ? a : "");
	char *s = strrchr(buf, '/');
	if (s)
		*s = 0;
	for (len = strlen(buf); len && strchr("._-:", buf[len - 1]); len--)
		buf[len - 1] = 0;
	s = strrchr(buf, '/');
	s = s ? s + 1 : buf;
	snprintf(out, sizeof m->name, "'%s'", *s ? s : node_name(m->n));
}

static bool
match_block(ir_graph *g, ir_node *n, slim_match *m)
{
	if (n->op != OP_Add || ir_is_const(n->in[0]) || ir_is_const(n->in[1]) ||
	    !ir_shape_eq(&n->in[0]->shape, &n->in[1]->shape) ||
	    !ir_shape_eq(&n->in[0]->shape, &n->out[0]->shape))
		return false;
	for (int si = 0; si < 2; si++) {
		ir_value *s = n->in[si], *r = n->in[1 - si];
		ir_value *xs[2] = {s, projected(s)};
		for (int k = 0; k < 2; k++) {
			memset(m, 0, sizeof *m);
			m->kind = SLIM_BLOCK;
			m->n = n;
			m->skip = si;
			if (!xs[k] || !collect_branch(r, xs[k], m) ||
			    !branch_closed(g, m) ||
			    (s->def && has_node(m->branch, m->nbranch, s->def))) {
				match_free(m);
				continue;
			}
			for (int i = 0; i < m->nbranch; i++)
				for (int j = 0; j < m->branch[i]->nin; j++)
					if (pass_has_data(m->branch[i]->in[j]))
						m->params += m->branch[i]->in[j]->nnz;
			block_name(m);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Applying a rewrite. Each leaves uses stale and shapes to infer. */

static void
apply_merge(ir_graph *g, const slim_match *m)
{
	ir_node *n = m->n, *u = m->next;
	int64_t ins = n->in[0]->shape.dim[1], mid = n->out[0]->shape.dim[1];
	int64_t outs = u->out[0]->shape.dim[1];
	double *w1, *b1, *w2, *b2;
	fc_matrix(n, &w1, &b1);
	fc_matrix(u, &w2, &b2);
	double *w = nn_xcalloc((size_t)(outs * ins) + 1, sizeof *w);
	for (int64_t r = 0; r < outs; r++)
		for (int64_t j = 0; j < mid; j++) {
			double a = w2[r * mid + j];
			for (int64_t c = 0; a != 0 && c < ins; c++)
				w[r * ins + c] += a * w1[j * ins + c];
			b2[r] += a * b1[j];
		}
	ir_shape ws = {2, {outs, ins}}, bs = {1, {outs}};
	ir_value *in[3] = {n->in[0], pass_const_f64(g, IR_F32, &ws, w),
			   pass_const_f64(g, IR_F32, &bs, b2)};
	ir_node *f = ir_insert_node(g, u, OP_Gemm, u->name, 3, in, 1);
	ir_set_attr(g, f, "transB", IR_ATTR_INT)->i = 1;
	pass_replace(g, u->out[0], f->out[0]);
	ir_remove_node(g, u);
	ir_remove_node(g, n);
	free(w1);
	free(b1);
	free(w2);
	free(b2);
	free(w);
}

/* The next layer reads the removed layer's input; if the widths differ
 * its weight becomes zeros of the new width, for refit to solve. */
static void
apply_layer(ir_graph *g, const slim_match *m)
{
	ir_node *u = m->next;
	ir_value *x = m->n->in[0], *w = u->in[1];
	int64_t ins = x->shape.dim[1], mid = m->n->out[0]->shape.dim[1];
	u->in[0] = x;
	if (ins != mid) {
		bool tb = u->op == OP_Gemm && ir_attr_i(u, "transB");
		ir_shape s = w->shape;
		s.dim[tb ? 1 : 0] = ins;
		ir_value *nw = pass_new_const(g, w->dtype, &s);
		ir_const_facts(nw);
		u->in[1] = nw;
	}
	ir_remove_node(g, m->act);
	ir_remove_node(g, m->n);
}

static void
apply_block(ir_graph *g, const slim_match *m)
{
	ir_value *s = m->n->in[m->skip];
	pass_replace(g, m->n->out[0], s);
	for (int i = 0; i < m->nbranch; i++)
		ir_remove_node(g, m->branch[i]);
	ir_remove_node(g, m->n);
}

/* The rewrite of kind k at node n of g (uses computed), if there is
 * one. */
static bool
match_at(ir_graph *g, ir_node *n, slim_kind k, slim_match *m)
{
	memset(m, 0, sizeof *m);
	switch (k) {
	case SLIM_MERGE:
		return match_merge(g, n, m);
	case SLIM_LAYER:
		return match_layer(g, n, m);
	case SLIM_BLOCK:
		return match_block(g, n, m) &&
		       (pass_can_replace(g, n->out[0], n->in[m->skip]) ||
			(match_free(m), false));
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Refit after a removal and the greedy search. */

typedef struct slim_ctx {
	pass_env *e;
	double tol, damp;
	nn_diag *d;
} slim_ctx;

static ir_node *
node_at(ir_graph *g, int pos)
{
	ir_node *n = g->first;
	for (; n && pos > 0; pos--)
		n = n->next;
	return n;
}

static bool
follows(const ir_node *from, const ir_node *n)
{
	for (; from; from = from->next)
		if (from == n)
			return true;
	return false;
}

/* Refits every weight layer from node `from` on in network order, each
 * to its teacher's outputs (`wide`: the one whose input width changed). */
static bool
refit_from(ir_graph *g, const slim_ctx *c, ir_node *from, const ir_node *wide)
{
	int nl;
	bool ok = true;
	cmp_layer *cl = cmp_weight_layers(g, &nl);
	for (int i = 0; i < nl && ok; i++) {
		bool done;
		const ir_node *n = cl[i].n;
		if (!from || !follows(from, n))
			continue;
		ok = cmp_refit_one(g, c->e, &cl[i], true, n == wide, c->damp,
				   c->d, &done);
		free(cl);
		cl = cmp_weight_layers(g, &nl);
	}
	free(cl);
	return ok;
}

/* Applies the rewrite of kind k at position pos of g and refits after it
 * (merges are exact: no refit). */
static bool
apply_at(ir_graph *g, const slim_ctx *c, int pos, slim_kind k)
{
	slim_match m;
	ir_compute_uses(g);
	if (!match_at(g, node_at(g, pos), k, &m))
		return false;
	ir_node *from = k == SLIM_BLOCK ? m.n->next : m.next;
	ir_node *wide = k == SLIM_LAYER ? m.next : NULL;
	if (k == SLIM_MERGE)
		apply_merge(g, &m);
	else if (k == SLIM_LAYER)
		apply_layer(g, &m);
	else
		apply_block(g, &m);
	match_free(&m);
	ir_compute_uses(g);
	pass_drop_unused_consts(g);
	if (!ir_infer_shapes(g, c->d))
		return false;
	return k == SLIM_MERGE || refit_from(g, c, from, wide);
}

/* apply_at without the refit's log lines (only the choice is reported),
 * then the fidelity of the result. */
static bool
apply_measure(ir_graph *g, const slim_ctx *c, int pos, slim_kind k,
	      pass_fidelity *fid)
{
	pass_env_mark mk = pass_env_save(c->e);
	bool ok = apply_at(g, c, pos, k) &&
		  pass_measure_fidelity(c->e->teacher, g,
					pass_env_search(c->e), fid, c->d);
	pass_env_rewind(c->e, mk);
	return ok;
}

static void
log_step(const slim_ctx *c, const char *verb, const slim_match *m,
	 const pass_fidelity *f)
{
	char acc[48] = "";
	if (f->accuracy >= 0)
		snprintf(acc, sizeof acc, ", accuracy %.4f", f->accuracy);
	pass_field fl[] = {PF_STR("action", verb),
			   PF_STR("what", kind_names[m->kind]),
			   PF_NUM("top1_agreement", f->top1_agree),
			   PF_NUM("weights", (double)m->params),
			   PF_NUM("accuracy", f->accuracy)};
	pass_env_record(c->e, "slim", m->name, fl, f->accuracy >= 0 ? 5 : 4,
			"slim: %s %s %s (agreement %.4f%s, %lld weights)", verb,
			kind_names[m->kind], m->name, f->top1_agree, acc,
			(long long)m->params);
}

/* The best removal: the candidate with the highest agreement (then the
 * most weights), tried on a copy of the graph each. */
typedef struct slim_best {
	bool found;
	int pos;
	slim_match m;     /* names and counts only: the nodes are gone */
	pass_fidelity fid;
} slim_best;

static bool
try_all(ir_graph *g, const slim_ctx *c, slim_best *b)
{
	int pos = 0;
	ir_compute_uses(g);
	for (ir_node *n = g->first; n; n = n->next, pos++)
		for (slim_kind k = SLIM_BLOCK; k <= SLIM_LAYER; k++) {
			slim_match m;
			pass_fidelity f;
			if (!match_at(g, n, k, &m))
				continue;
			match_free(&m);
			ir_graph *t = ir_graph_clone(g);
			bool ok = apply_measure(t, c, pos, k, &f);
			ir_graph_free(t);
			if (!ok)
				return false;
			ir_compute_uses(g);
			if (!b->found || f.top1_agree > b->fid.top1_agree ||
			    (f.top1_agree == b->fid.top1_agree &&
			     m.params > b->m.params))
				*b = (slim_best){true, pos, m, f};
		}
	return true;
}

/* The exact merges, first: each needs no search. */
static bool
merge_all(ir_graph *g, const slim_ctx *c, int *count)
{
	for (bool again = true; again;) {
		int pos = 0;
		again = false;
		ir_compute_uses(g);
		for (ir_node *n = g->first; n; n = n->next, pos++) {
			slim_match m;
			pass_fidelity f;
			if (!match_at(g, n, SLIM_MERGE, &m))
				continue;
			if (!apply_measure(g, c, pos, SLIM_MERGE, &f))
				return false;
			log_step(c, "merged", &m, &f);
			(*count)++;
			again = true;
			break;
		}
	}
	return true;
}

/* Removes the best candidate while the agreement stays within the
 * tolerance; the chosen one is applied again to g itself (the trials
 * are deterministic, so it gives the graph that was measured). */
static bool
search(ir_graph *g, const slim_ctx *c, int *count)
{
	for (;;) {
		slim_best b = {0};
		if (!try_all(g, c, &b))
			return false;
		if (!b.found)
			return true;
		if (1 - b.fid.top1_agree > c->tol + 1e-12) {
			log_step(c, "kept", &b.m, &b.fid);
			pass_env_record(c->e, "slim-stop", NULL,
					PASS_FIELDS(PF_NUM("top1_agreement",
							   b.fid.top1_agree),
						    PF_NUM("min_agreement",
							   1 - c->tol)),
					"slim: stopped: removing it would "
					"leave agreement %.4f, below 1 - "
					"tolerance = %.4f", b.fid.top1_agree,
					1 - c->tol);
			return true;
		}
		pass_fidelity f;
		if (!apply_measure(g, c, b.pos, b.m.kind, &f))
			return false;
		log_step(c, "removed", &b.m, &f);
		(*count)++;
	}
}

bool
pass_slim(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	static const char *const keys[] = {"tolerance", "damp", NULL};
	bool ok = pass_opts_allow(o, "slim", keys, d);
	pass_env *e = o ? o->env : NULL;
	double tol = pass_opt_f64(o, "slim", "tolerance",
				  e ? e->tolerance : -1, d, &ok);
	double damp = pass_opt_f64(o, "slim", "damp", 0.1, d, &ok);
	if (!ok || !(e = pass_need_data(o, g, "slim", d)))
		return false;
	if (!(tol >= 0 && tol <= 1)) {
		if (tol < 0)
			nn_error(d, "slim needs a tolerance (nncc --tolerance X, "
				 "or slim{tolerance=X}): the top-1 agreement "
				 "it may lose");
		else
			nn_error(d, "slim: tolerance %g is not in [0, 1]", tol);
		return false;
	}
	if (!(damp >= 0)) {
		nn_error(d, "slim: damp must be >= 0, got %g", damp);
		return false;
	}
	if (!cmp_check_data(g, "slim", d))
		return false;
	slim_ctx c = {e, tol, damp, d};
	int n = 0;
	ok = merge_all(g, &c, &n) && search(g, &c, &n);
	*changed = n > 0;
	return ok;
}
