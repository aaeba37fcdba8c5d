/* Einsum, rewritten at import into nodes of the existing IR: repeated
 * labels of an operand into Transpose + Reshape + Gather (its diagonal),
 * labels only one operand has into ReduceSum, each pair of operands into
 * Transpose + Reshape + MatMul (batch, kept and summed labels), and the
 * result into the output's order by Transpose. The IR has no Einsum op,
 * so the interpreter, passes and code generation see only those. */
#include <string.h>

#include "fe_internal.h"

/* Labels: 'A'..'Z' are 0..25, 'a'..'z' 26..51 (so label order is ASCII
 * order, the implicit output's), the dims "..." stands for 52... */
enum { ELL = 52, NLABELS = ELL + IR_MAX_RANK };

typedef struct term {
	int rank;
	int lab[IR_MAX_RANK];
	int64_t dim[IR_MAX_RANK];
	ir_value *v;
} term;

typedef struct spec {
	int nin;
	int nlab[IR_MAX_RANK + 1]; /* letters per term (ELL excluded) */
	int ell[IR_MAX_RANK + 1];  /* -1: no "...", else its position */
	int lab[IR_MAX_RANK + 1][IR_MAX_RANK];
	bool has_out;
	int nout, out_ell, out[IR_MAX_RANK];
} spec;

typedef struct ectx {
	fe_ctx *c;
	const Onnx__NodeProto *np;
	const char *name;
	int64_t size[NLABELS];
} ectx;

/* Parses one term of s (up to ',' '-' or the end) into lab/nlab/ell;
 * false after reporting. */
static bool
parse_term(ectx *e, const char **s, int *lab, int *nlab, int *ell)
{
	const char *p = *s;
	*nlab = 0;
	*ell = -1;
	for (; *p && *p != ',' && *p != '-'; p++) {
		int l = -1;
		if (*p == ' ')
			continue;
		if (*p == '.') {
			if (strncmp(p, "...", 3) != 0 || *ell >= 0) {
				fe_error_np(e->c, e->np, "equation: '.' must "
					    "be one '...' per term");
				return false;
			}
			*ell = *nlab;
			p += 2;
			continue;
		}
		if (*p >= 'A' && *p <= 'Z')
			l = *p - 'A';
		else if (*p >= 'a' && *p <= 'z')
			l = 26 + *p - 'a';
		if (l < 0) {
			fe_error_np(e->c, e->np, "equation: unexpected "
				    "character '%c'", *p);
			return false;
		}
		if (*nlab >= IR_MAX_RANK) {
			fe_error_np(e->c, e->np, "equation: a term has more "
				    "than %d labels", IR_MAX_RANK);
			return false;
		}
		lab[(*nlab)++] = l;
	}
	*s = p;
	return true;
}

static bool
parse_equation(ectx *e, const char *eq, int nin, spec *sp)
{
	const char *p = eq;
	memset(sp, 0, sizeof *sp);
	for (;;) {
		if (sp->nin > IR_MAX_RANK) {
			fe_error_np(e->c, e->np, "equation: more than %d "
				    "operands", IR_MAX_RANK + 1);
			return false;
		}
		if (!parse_term(e, &p, sp->lab[sp->nin], &sp->nlab[sp->nin],
				&sp->ell[sp->nin]))
			return false;
		sp->nin++;
		if (*p != ',')
			break;
		p++;
	}
	if (*p == '-') {
		if (p[1] != '>') {
			fe_error_np(e->c, e->np, "equation: '-' must start "
				    "'->'");
			return false;
		}
		p += 2;
		sp->has_out = true;
		if (!parse_term(e, &p, sp->out, &sp->nout, &sp->out_ell))
			return false;
		if (*p) {
			fe_error_np(e->c, e->np, "equation: '%c' after the "
				    "output term", *p);
			return false;
		}
	}
	if (sp->nin != nin) {
		fe_error_np(e->c, e->np, "equation '%s' has %d operand "
			    "term%s, the node %d input%s", eq, sp->nin,
			    sp->nin == 1 ? "" : "s", nin, nin == 1 ? "" : "s");
		return false;
	}
	return true;
}

/* The terms of the inputs with "..." expanded (right-aligned labels ELL +
 * k across operands), sizes checked; false after reporting. */
static bool
bind_terms(ectx *e, const spec *sp, ir_value **in, term *t, int *nell)
{
	*nell = 0;
	for (int i = 0; i < sp->nin; i++) {
		int r = in[i]->shape.rank;
		if (r < sp->nlab[i] || (sp->ell[i] < 0 && r != sp->nlab[i])) {
			fe_error_np(e->c, e->np, "input %d has rank %d, its "
				    "term %d labels", i, r, sp->nlab[i]);
			return false;
		}
		if (sp->ell[i] >= 0 && r - sp->nlab[i] > *nell)
			*nell = r - sp->nlab[i];
	}
	for (int l = 0; l < NLABELS; l++)
		e->size[l] = -1;
	for (int i = 0; i < sp->nin; i++) {
		int r = in[i]->shape.rank, ne = r - sp->nlab[i], k = 0;
		t[i].rank = r;
		t[i].v = in[i];
		for (int j = 0; j <= sp->nlab[i]; j++) {
			if (j == sp->ell[i])
				for (int q = 0; q < ne; q++)
					t[i].lab[k++] = ELL + *nell - ne + q;
			if (j < sp->nlab[i])
				t[i].lab[k++] = sp->lab[i][j];
		}
		for (k = 0; k < r; k++) {
			int l = t[i].lab[k];
			int64_t d = in[i]->shape.dim[k];
			t[i].dim[k] = d;
			if (e->size[l] < 0 || e->size[l] == 1)
				e->size[l] = d;
			else if (d != e->size[l] && !(l >= ELL && d == 1)) {
				fe_error_np(e->c, e->np, "label of input %d "
					    "axis %d has size %lld, elsewhere "
					    "%lld", i, k, (long long)d,
					    (long long)e->size[l]);
				return false;
			}
		}
	}
	return true;
}

/* The output labels: explicit, or "..." then the letters seen once in
 * increasing order. */
static bool
output_labels(ectx *e, const spec *sp, const term *t, int nell, int *out,
	      int *nout)
{
	int count[NLABELS] = {0};
	for (int i = 0; i < sp->nin; i++)
		for (int k = 0; k < t[i].rank; k++)
			count[t[i].lab[k]]++;
	*nout = 0;
	if (!sp->has_out) {
		for (int l = ELL; l < ELL + nell; l++)
			out[(*nout)++] = l;
		for (int l = 0; l < ELL && *nout < IR_MAX_RANK; l++)
			if (count[l] == 1)
				out[(*nout)++] = l;
		return true;
	}
	bool seen[NLABELS] = {false};
	for (int j = 0; j <= sp->nout; j++) {
		if (j == sp->out_ell)
			for (int l = ELL; l < ELL + nell; l++)
				out[(*nout)++] = l;
		if (j == sp->nout)
			break;
		int l = sp->out[j];
		if (!count[l] || seen[l]) {
			fe_error_np(e->c, e->np, "equation: output label "
				    "'%c' %s", l < 26 ? 'A' + l : 'a' + l - 26,
				    seen[l] ? "is repeated" : "is in no input");
			return false;
		}
		seen[l] = true;
		out[(*nout)++] = l;
	}
	if (*nout > IR_MAX_RANK) {
		fe_error_np(e->c, e->np, "output has more than %d dims",
			    IR_MAX_RANK);
		return false;
	}
	return true;
}

static ir_value *
i64_const(ectx *e, const int64_t *v, int n)
{
	ir_shape s = {.rank = 1, .dim = {n}};
	return ir_add_const(e->c->g, NULL, IR_I64, &s, v);
}

static ir_value *
add_node(ectx *e, ir_op op, int nin, ir_value **in)
{
	return ir_add_node(e->c->g, op, e->name, nin, in, 1)->out[0];
}

/* t permuted so that axis perm[k] becomes axis k (no node if the
 * identity). */
static void
permute(ectx *e, term *t, const int *perm)
{
	term r = *t;
	bool id = true;
	for (int k = 0; k < t->rank; k++) {
		r.lab[k] = t->lab[perm[k]];
		r.dim[k] = t->dim[perm[k]];
		id &= perm[k] == k;
	}
	if (id)
		return;
	ir_node *n = ir_add_node(e->c->g, OP_Transpose, e->name, 1, &t->v, 1);
	ir_attr *a = ir_set_attr(e->c->g, n, ir_intern(e->c->g, "perm"),
				 IR_ATTR_INTS);
	a->n = t->rank;
	a->ints = nn_alloc_array(e->c->g->arena, (size_t)t->rank + 1, 8);
	for (int k = 0; k < t->rank; k++)
		a->ints[k] = perm[k];
	r.v = n->out[0];
	*t = r;
}

/* v reshaped to dims (no node if the shape is already dims). */
static ir_value *
reshape(ectx *e, ir_value *v, const int64_t *from, int rf,
	const int64_t *dims, int rank)
{
	if (rf == rank && !memcmp(from, dims, (size_t)rank * sizeof *dims))
		return v;
	ir_value *in[2] = {v, i64_const(e, dims, rank)};
	return add_node(e, OP_Reshape, 2, in);
}

/* Replaces a label repeated in t by its diagonal, until none is. */
static void
diagonals(ectx *e, term *t)
{
	for (int p = 0; p < t->rank; p++)
		for (int q = p + 1; q < t->rank; q++) {
			if (t->lab[p] != t->lab[q])
				continue;
			int perm[IR_MAX_RANK], k = 0;
			for (int j = 0; j < t->rank; j++)
				if (j != p && j != q)
					perm[k++] = j;
			perm[k++] = p;
			perm[k] = q;
			permute(e, t, perm);
			int64_t d = t->dim[t->rank - 1], dims[IR_MAX_RANK];
			memcpy(dims, t->dim, sizeof dims);
			dims[t->rank - 2] = d * d;
			ir_value *in[2];
			in[0] = reshape(e, t->v, t->dim, t->rank, dims,
					t->rank - 1);
			int64_t *ix = nn_alloc_array(e->c->tmp, (size_t)d + 1,
						     sizeof *ix);
			for (int64_t j = 0; j < d; j++)
				ix[j] = j * (d + 1);
			in[1] = i64_const(e, ix, (int)d);
			ir_node *n = ir_add_node(e->c->g, OP_Gather, e->name,
						 2, in, 1);
			ir_set_attr(e->c->g, n, ir_intern(e->c->g, "axis"),
				    IR_ATTR_INT)->i = t->rank - 2;
			t->v = n->out[0];
			t->rank--;
			p = -1; /* start over: positions moved */
			break;
		}
}

/* Sums the labels of t that keep[] does not mark (ReduceSum). */
static void
reduce(ectx *e, term *t, const bool *keep)
{
	int64_t axes[IR_MAX_RANK];
	int na = 0, k = 0;
	for (int j = 0; j < t->rank; j++)
		if (!keep[t->lab[j]])
			axes[na++] = j;
	if (!na)
		return;
	ir_value *in[2] = {t->v, i64_const(e, axes, na)};
	ir_node *n = ir_add_node(e->c->g, OP_ReduceSum, e->name, 2, in, 1);
	ir_set_attr(e->c->g, n, ir_intern(e->c->g, "keepdims"),
		    IR_ATTR_INT)->i = 0;
	for (int j = 0; j < t->rank; j++)
		if (keep[t->lab[j]]) {
			t->lab[k] = t->lab[j];
			t->dim[k++] = t->dim[j];
		}
	t->rank = k;
	t->v = n->out[0];
}

static bool
has(const term *t, int l)
{
	for (int k = 0; k < t->rank; k++)
		if (t->lab[k] == l)
			return true;
	return false;
}

/* a := a x b over the labels both have: those keep[] marks stay (batch),
 * the others are summed; a's own labels then b's follow the batch. False
 * after reporting a product the IR's ranks cannot hold. */
static bool
contract(ectx *e, term *a, term *b, const bool *keep)
{
	int pa[IR_MAX_RANK], pb[IR_MAX_RANK], na = 0, nb = 0, nbat = 0, nr = 0;
	int64_t lp = 1, kp = 1, rp = 1, da[IR_MAX_RANK], db[IR_MAX_RANK];
	term r = {0};
	for (int k = 0; k < a->rank; k++)
		nbat += has(b, a->lab[k]) && keep[a->lab[k]];
	for (int k = 0; k < a->rank; k++)
		nr += !has(b, a->lab[k]);
	for (int k = 0; k < b->rank; k++)
		nr += !has(a, b->lab[k]);
	if (nbat + 2 > IR_MAX_RANK || nbat + nr > IR_MAX_RANK) {
		fe_error_np(e->c, e->np, "a product of two operands would "
			    "need more than %d dims", IR_MAX_RANK);
		return false;
	}
	nbat = 0;
	for (int k = 0; k < a->rank; k++)
		if (has(b, a->lab[k]) && keep[a->lab[k]]) {
			pa[na++] = k;
			for (int j = 0; j < b->rank; j++)
				if (b->lab[j] == a->lab[k])
					pb[nb++] = j;
			r.lab[nbat] = a->lab[k];
			r.dim[nbat++] = e->size[a->lab[k]];
		}
	r.rank = nbat;
	for (int k = 0; k < a->rank; k++)
		if (!has(b, a->lab[k])) {
			pa[na++] = k;
			lp *= a->dim[k];
			r.lab[r.rank] = a->lab[k];
			r.dim[r.rank++] = a->dim[k];
		}
	for (int k = 0; k < a->rank; k++)
		if (has(b, a->lab[k]) && !keep[a->lab[k]]) {
			pa[na++] = k;
			kp *= a->dim[k];
			for (int j = 0; j < b->rank; j++)
				if (b->lab[j] == a->lab[k])
					pb[nb++] = j;
		}
	for (int j = 0; j < b->rank; j++)
		if (!has(a, b->lab[j])) {
			pb[nb++] = j;
			rp *= b->dim[j];
			r.lab[r.rank] = b->lab[j];
			r.dim[r.rank++] = b->dim[j];
		}
	permute(e, a, pa);
	permute(e, b, pb);
	memcpy(da, a->dim, sizeof da);
	memcpy(db, b->dim, sizeof db);
	da[nbat] = lp;
	da[nbat + 1] = kp;
	db[nbat] = kp;
	db[nbat + 1] = rp;
	ir_value *in[2] = {reshape(e, a->v, a->dim, a->rank, da, nbat + 2),
			   reshape(e, b->v, b->dim, b->rank, db, nbat + 2)};
	ir_value *m = add_node(e, OP_MatMul, 2, in);
	da[nbat + 1] = rp;
	for (int k = 0; k < nbat; k++)
		da[k] = r.dim[k];
	r.v = reshape(e, m, da, nbat + 2, r.dim, r.rank);
	*a = r;
	return true;
}

/* The labels a later step needs: the output's and those of operands
 * from..n-1. */
static void
needed(const int *out, int nout, const term *t, int from, int n, bool *keep)
{
	memset(keep, 0, NLABELS * sizeof *keep);
	for (int k = 0; k < nout; k++)
		keep[out[k]] = true;
	for (int i = from; i < n; i++)
		for (int k = 0; k < t[i].rank; k++)
			keep[t[i].lab[k]] = true;
}

static const char *
equation(ectx *e)
{
	const char *eq = NULL;
	for (size_t i = 0; i < e->np->n_attribute; i++) {
		const Onnx__AttributeProto *a = e->np->attribute[i];
		if (strcmp(fe_str(a->name), "equation") != 0 || eq ||
		    (a->has_type && a->type !=
		     ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)) {
			fe_error_np(e->c, e->np, "attribute '%s' is not "
				    "one string 'equation'", fe_str(a->name));
			return NULL;
		}
		char *s = nn_alloc(e->c->tmp, a->s.len + 1);
		if (a->s.len)
			memcpy(s, a->s.data, a->s.len);
		if (strlen(s) != a->s.len) {
			fe_error_np(e->c, e->np, "equation holds a NUL byte");
			return NULL;
		}
		eq = s;
	}
	if (!eq)
		fe_error_np(e->c, e->np, "attribute 'equation' is required");
	return eq;
}

/* Shapes of the inputs: graph inputs and constants have them; a node's
 * output gets them from inference over the nodes imported since the last
 * time (earlier nodes keep their types and data: import changes none). */
static bool
input_shapes(ectx *e, ir_value **in, int nin)
{
	fe_ctx *c = e->c;
	for (int i = 0; i < nin; i++)
		if (in[i]->dtype == IR_UNDEF) {
			ir_node *from = c->typed ? c->typed->next : c->g->first;
			c->typed = c->g->last;
			return !from || ir_infer_shapes_from(c->g, from, c->d);
		}
	return true;
}

bool
fe_import_einsum(fe_ctx *c, const Onnx__NodeProto *np, ir_value **in,
		 int nin)
{
	ectx e = {.c = c, .np = np};
	spec sp;
	term t[IR_MAX_RANK + 1];
	bool keep[NLABELS];
	int out[NLABELS], nout, nell, perm[IR_MAX_RANK];
	const char *eq = equation(&e);

	if (!eq)
		return false;
	e.name = np->name && *np->name ? ir_intern(c->g, np->name) : NULL;
	for (int i = 0; i < nin; i++)
		if (!in[i]) {
			fe_error_np(c, np, "input %d is empty", i);
			return false;
		}
	if (np->n_output != 1 || !*fe_str(np->output[0])) {
		fe_error_np(c, np, "needs exactly one named output");
		return false;
	}
	if (nin < 1 || !parse_equation(&e, eq, nin, &sp) ||
	    !input_shapes(&e, in, nin) || !bind_terms(&e, &sp, in, t, &nell) ||
	    !output_labels(&e, &sp, t, nell, out, &nout))
		return false;
	for (int i = 0; i < nin; i++) {
		diagonals(&e, &t[i]);
		needed(out, nout, t, i + 1, nin, keep);
		if (i > 0)
			for (int k = 0; k < t[0].rank; k++)
				keep[t[0].lab[k]] = true;
		reduce(&e, &t[i], keep);
		if (i == 0)
			continue;
		needed(out, nout, t, i + 1, nin, keep);
		for (int k = 0; k < t[i].rank; k++)
			if (!has(&t[0], t[i].lab[k]))
				keep[t[i].lab[k]] = true;
		if (!contract(&e, &t[0], &t[i], keep))
			return false;
	}
	needed(out, nout, t, nin, nin, keep);
	reduce(&e, &t[0], keep);
	for (int k = 0; k < nout; k++)
		for (int j = 0; j < t[0].rank; j++)
			if (t[0].lab[j] == out[k])
				perm[k] = j;
	NN_ASSERT(t[0].rank == nout);
	permute(&e, &t[0], perm);
	for (int i = 0; i < nin; i++)
		if (t[0].v == in[i]) /* no node made: one names the output */
			t[0].v = add_node(&e, OP_Identity, 1, &in[i]);
	t[0].v->name = ir_intern(c->g, np->output[0]);
	fe_map_put(c, &c->values, np->output[0], t[0].v);
	return true;
}
