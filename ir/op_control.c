/* If, Loop and Scan: shape inference types their graph attributes from
 * the node's inputs, and the reference semantics run those graphs with the
 * interpreter. The captured outer values are the node's last inputs and
 * each subgraph's last inputs (ir_graph.ncaptured), so nothing here knows
 * about scopes. ir_inline_if replaces an If whose condition is known by
 * the branch it takes. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

ir_graph *
ir_attr_graph(const ir_node *n, const char *name)
{
	const ir_attr *a = ir_get_attr(n, name);
	return a && a->kind == IR_ATTR_GRAPH ? a->g : NULL;
}

static size_t
bytes_of(const ir_value *v)
{
	return (size_t)ir_shape_numel(&v->shape) * ir_dtype_size(v->dtype);
}

/* Gives sub's input i the type of value v (and its data, which inference
 * may know: a captured Reshape target). */
static void
type_input(ir_graph *sub, int i, const ir_value *v, bool data)
{
	ir_value *x = sub->inputs[i];
	x->dtype = v->dtype;
	x->shape = v->shape;
	x->data = data ? v->data : NULL;
}

static void
type_scalar(ir_graph *sub, int i, ir_dtype t)
{
	ir_value *x = sub->inputs[i];
	x->dtype = t;
	x->shape = (ir_shape){.rank = 0};
	x->data = NULL;
}

/* The subgraph's captured inputs typed from n's last inputs; false (after
 * reporting) when the counts disagree. */
static bool
type_captures(ir_graph *sub, const ir_node *n, const char *what,
	      nn_diag *d)
{
	int nc = sub->ncaptured;
	if (nc > n->nin || nc > sub->ninputs ||
	    nc != ir_node_ncaptured(n)) {
		nn_error_node(d, n, "%s captures %d values, the node passes "
			      "%d", what, nc, ir_node_ncaptured(n));
		return false;
	}
	for (int k = 0; k < nc; k++)
		type_input(sub, sub->ninputs - nc + k, n->in[n->nin - nc + k],
			   true);
	return true;
}

static bool
same_type(const ir_value *a, const ir_value *b)
{
	return a->dtype == b->dtype && ir_shape_eq(&a->shape, &b->shape);
}

static void
type_str(const ir_value *v, char *buf, size_t size)
{
	size_t k = (size_t)snprintf(buf, size, "%s", ir_dtype_name(v->dtype));
	if (k < size)
		ir_shape_str(&v->shape, buf + k, size - k);
}

static bool
is_bool_scalar(const ir_value *v)
{
	return v->dtype == IR_BOOL && ir_shape_numel(&v->shape) == 1;
}

/* ---------------------------------------------------------------- If */

/* The branch an If with a known condition takes, else NULL. */
static ir_graph *
taken_branch(const ir_node *n)
{
	const ir_value *c = n->in[0];
	if (!c->data || c->dtype != IR_BOOL)
		return NULL;
	return ir_attr_graph(n, *(const uint8_t *)c->data ? "then_branch"
							   : "else_branch");
}

static bool
shape_branch(ir_graph *b, ir_node *n, const char *what, nn_diag *d)
{
	if (!b) {
		nn_error_node(d, n, "has no %s", what);
		return false;
	}
	if (b->ninputs != b->ncaptured) {
		nn_error_node(d, n, "%s has %d inputs besides its captures, "
			      "expected none", what, b->ninputs - b->ncaptured);
		return false;
	}
	if (!type_captures(b, n, what, d) || !ir_infer_shapes(b, d))
		return false;
	if (b->noutputs != n->nout) {
		nn_error_node(d, n, "%s has %d outputs, the node %d", what,
			      b->noutputs, n->nout);
		return false;
	}
	return true;
}

static bool
shape_if(ir_node *n, nn_diag *d)
{
	ir_graph *t = ir_attr_graph(n, "then_branch");
	ir_graph *e = ir_attr_graph(n, "else_branch");
	if (!is_bool_scalar(n->in[0])) {
		nn_error_node(d, n, "condition must be a bool with one "
			      "element");
		return false;
	}
	ir_graph *known = taken_branch(n);
	if (known) {
		if (!shape_branch(known, n, known == t ? "then_branch"
						       : "else_branch", d))
			return false;
		for (int i = 0; i < n->nout; i++)
			if (n->out[i]) {
				n->out[i]->dtype = known->outputs[i]->dtype;
				n->out[i]->shape = known->outputs[i]->shape;
				n->out[i]->data = known->outputs[i]->data;
			}
		return true;
	}
	if (!shape_branch(t, n, "then_branch", d) ||
	    !shape_branch(e, n, "else_branch", d))
		return false;
	for (int i = 0; i < n->nout; i++) {
		char a[160], b[160];
		if (!same_type(t->outputs[i], e->outputs[i])) {
			type_str(t->outputs[i], a, sizeof a);
			type_str(e->outputs[i], b, sizeof b);
			nn_error_node(d, n, "output %d is %s in then_branch but "
				      "%s in else_branch, and the condition "
				      "is not known at compile time (freeze "
				      "the input it depends on with "
				      "--input-value)", i, a, b);
			return false;
		}
		if (n->out[i]) {
			n->out[i]->dtype = t->outputs[i]->dtype;
			n->out[i]->shape = t->outputs[i]->shape;
		}
	}
	return true;
}

static bool
eval_if(const ir_node *n, const void *const *in, void *const *out,
	nn_diag *d)
{
	bool c = *(const uint8_t *)in[0];
	ir_graph *b = ir_attr_graph(n, c ? "then_branch" : "else_branch");
	void **o = nn_xcalloc((size_t)n->nout + 1, sizeof *o);
	bool ok = true;
	for (int i = 0; i < n->nout; i++)
		o[i] = out[i] ? out[i] : nn_xcalloc(1, bytes_of(b->outputs[i]) + 1);
	ok = ir_run(b, in + 1, o, d);
	for (int i = 0; i < n->nout; i++)
		if (!out[i])
			free(o[i]);
	free(o);
	return ok;
}

/* ------------------------------------------------------- Loop, Scan */

/* The n values a loop carries (body inputs from `in`, outputs from `out`)
 * keep their types, which node outputs 0..n-1 take; false (reported,
 * naming each by `what`) when one changes. */
static bool
type_carried(ir_node *n, const ir_graph *body, int in, int out, int count,
	     const char *what, nn_diag *d)
{
	for (int k = 0; k < count; k++) {
		const ir_value *x = body->inputs[in + k];
		char a[160], b[160];
		if (!same_type(body->outputs[out + k], x)) {
			type_str(x, a, sizeof a);
			type_str(body->outputs[out + k], b, sizeof b);
			nn_error_node(d, n, "%s %d enters the body as %s and "
				      "leaves it as %s (shapes must stay the "
				      "same)", what, k, a, b);
			return false;
		}
		if (n->out[k]) {
			n->out[k]->dtype = x->dtype;
			n->out[k]->shape = x->shape;
		}
	}
	return true;
}

/* Whether the body's condition output v (through Identity nodes) is its
 * condition input or the constant true: the loop cannot stop early. */
static bool
passes_cond(const ir_graph *body, const ir_value *v)
{
	while (v->def && v->def->op == OP_Identity)
		v = v->def->in[0];
	return v == body->inputs[1] ||
	       (ir_is_const(v) && v->data && v->dtype == IR_BOOL &&
		ir_shape_numel(&v->shape) == 1 && *(const uint8_t *)v->data);
}

int64_t
ir_loop_trips(const ir_node *n)
{
	ir_graph *body = ir_attr_graph(n, "body");
	const ir_value *m = n->in[0], *c = n->in[1];
	if (!body || !m || !m->data || body->noutputs < 1 ||
	    body->ninputs < 2)
		return -1;
	if (c && (!c->data || !*(const uint8_t *)c->data))
		return c && c->data ? 0 : -1;
	if (!passes_cond(body, body->outputs[0]))
		return -1;
	int64_t t = ir_load_i64(m->data, m->dtype, 0);
	return t > 0 ? t : 0;
}

static bool
shape_loop(ir_node *n, nn_diag *d)
{
	ir_graph *body = ir_attr_graph(n, "body");
	int nc = ir_node_ncaptured(n), nv = n->nin - 2 - nc;
	if (!body || nv < 0 || body->ninputs != n->nin ||
	    body->noutputs != 1 + n->nout || n->nout < nv) {
		nn_error_node(d, n, "body has %d inputs and %d outputs; with "
			      "%d loop-carried values it needs %d and %d",
			      body ? body->ninputs : 0,
			      body ? body->noutputs : 0, nv < 0 ? 0 : nv,
			      n->nin, n->nout + 1);
		return false;
	}
	if (n->in[0] && (n->in[0]->dtype != IR_I64 ||
			 ir_shape_numel(&n->in[0]->shape) != 1)) {
		nn_error_node(d, n, "trip count M must be an i64 with one "
			      "element");
		return false;
	}
	if (n->in[1] && !is_bool_scalar(n->in[1])) {
		nn_error_node(d, n, "condition must be a bool with one "
			      "element");
		return false;
	}
	type_scalar(body, 0, IR_I64);
	type_scalar(body, 1, IR_BOOL);
	for (int k = 0; k < nv; k++) {
		if (!n->in[2 + k]) {
			nn_error_node(d, n, "loop-carried input %d is empty",
				      k);
			return false;
		}
		type_input(body, 2 + k, n->in[2 + k], false);
	}
	if (!type_captures(body, n, "body", d) || !ir_infer_shapes(body, d))
		return false;
	if (!is_bool_scalar(body->outputs[0])) {
		nn_error_node(d, n, "body's first output (the condition) must "
			      "be a bool with one element");
		return false;
	}
	if (!type_carried(n, body, 2, 1, nv, "loop-carried value", d))
		return false;
	int64_t trips = ir_loop_trips(n);
	for (int k = nv; k < n->nout; k++) {
		const ir_value *s = body->outputs[1 + k];
		if (trips < 0) {
			nn_error_node(d, n, "scan output %d needs the number "
				      "of iterations at compile time: a "
				      "constant trip count M and a condition "
				      "that is constant true or passed "
				      "through the body unchanged", k - nv);
			return false;
		}
		if (s->shape.rank + 1 > IR_MAX_RANK) {
			nn_error_node(d, n, "scan output %d has too many "
				      "dimensions", k - nv);
			return false;
		}
		if (!n->out[k])
			continue;
		n->out[k]->dtype = s->dtype;
		n->out[k]->shape.rank = s->shape.rank + 1;
		n->out[k]->shape.dim[0] = trips;
		for (int i = 0; i < s->shape.rank; i++)
			n->out[k]->shape.dim[i + 1] = s->shape.dim[i];
	}
	return true;
}

static bool
eval_loop(const ir_node *n, const void *const *in, void *const *out,
	  nn_diag *d)
{
	ir_graph *body = ir_attr_graph(n, "body");
	int nc = ir_node_ncaptured(n), nv = n->nin - 2 - nc, nb = n->nin;
	int64_t m = in[0] ? *(const int64_t *)in[0] : INT64_MAX;
	uint8_t cond = in[1] ? *(const uint8_t *)in[1] : 1;
	const void **bin = nn_xcalloc((size_t)nb + 1, sizeof *bin);
	void **bout = nn_xcalloc((size_t)n->nout + 2, sizeof *bout);
	void **cur = nn_xcalloc((size_t)nv + 1, sizeof *cur);
	void **nxt = nn_xcalloc((size_t)nv + 1, sizeof *nxt);
	void **scan = nn_xcalloc((size_t)(n->nout - nv) + 1, sizeof *scan);
	int64_t iter = 0;
	uint8_t cond_out = 0;
	bool ok = true;
	for (int k = 0; k < nv; k++) {
		size_t b = bytes_of(body->inputs[2 + k]);
		cur[k] = nn_xcalloc(1, b + 1);
		nxt[k] = nn_xcalloc(1, b + 1);
		memcpy(cur[k], in[2 + k], b);
	}
	for (int k = nv; k < n->nout; k++)
		scan[k - nv] = nn_xcalloc(1, bytes_of(body->outputs[1 + k]) + 1);
	for (int k = 0; k < nc; k++)
		bin[nb - nc + k] = in[nb - nc + k];
	for (; ok && iter < m && cond; iter++) {
		bin[0] = &iter;
		bin[1] = &cond;
		for (int k = 0; k < nv; k++)
			bin[2 + k] = cur[k];
		bout[0] = &cond_out;
		for (int k = 0; k < nv; k++)
			bout[1 + k] = nxt[k];
		for (int k = nv; k < n->nout; k++)
			bout[1 + k] = scan[k - nv];
		ok = ir_run(body, bin, bout, d);
		for (int k = nv; ok && k < n->nout; k++) {
			/* shape inference sized the output for the known
			 * count; a loop that ran longer would not fit */
			size_t sb = bytes_of(body->outputs[1 + k]);
			if (out[k] && (iter + 1) * (int64_t)sb <=
					      (int64_t)bytes_of(n->out[k]))
				memcpy((char *)out[k] + (size_t)iter * sb,
				       scan[k - nv], sb);
		}
		for (int k = 0; k < nv; k++) {
			void *t = cur[k];
			cur[k] = nxt[k];
			nxt[k] = t;
		}
		cond = cond_out;
	}
	for (int k = 0; ok && k < nv; k++)
		if (out[k])
			memcpy(out[k], cur[k], bytes_of(n->out[k]));
	for (int k = 0; k < nv; k++) {
		free(cur[k]);
		free(nxt[k]);
	}
	for (int k = nv; k < n->nout; k++)
		free(scan[k - nv]);
	free(scan);
	free(cur);
	free(nxt);
	free((void *)bin);
	free(bout);
	return ok;
}

/* -------------------------------------------------------------- Scan */

static bool
read_axes(const ir_node *n, const char *name, int count, int *ax,
	  bool *rev, bool dirs, nn_diag *d)
{
	int na = 0;
	const int64_t *a = ir_attr_ints(n, name, &na);
	if (a && na != count) {
		if (d)
			nn_error_node(d, n, "%s has %d values, expected %d",
				      name, na, count);
		return false;
	}
	for (int i = 0; i < count; i++) {
		int64_t v = a ? a[i] : 0;
		if (dirs) {
			if (v != 0 && v != 1) {
				if (d)
					nn_error_node(d, n, "%s[%d] is %lld, "
						      "expected 0 or 1", name,
						      i, (long long)v);
				return false;
			}
			rev[i] = v == 1;
		} else {
			ax[i] = (int)(v < INT32_MIN ? INT32_MIN
				      : v > INT32_MAX ? INT32_MAX : v);
		}
	}
	return true;
}

bool
ir_scan_get(const ir_node *n, ir_scan *s, nn_diag *d)
{
	ir_graph *body = ir_attr_graph(n, "body");
	const ir_attr *k = ir_get_attr(n, "num_scan_inputs");
	int nc = ir_node_ncaptured(n);
	memset(s, 0, sizeof *s);
	if (ir_get_attr(n, "directions")) {
		if (d)
			nn_error_node(d, n, "attribute 'directions' is Scan-8's "
				      "(the import converts that form); opset "
				      "9 has scan_input_directions");
		return false;
	}
	if (!body || !k) {
		if (d)
			nn_error_node(d, n, "needs body and num_scan_inputs");
		return false;
	}
	s->nscan_in = k->i < 1 || k->i > IR_SCAN_MAX ? -1 : (int)k->i;
	s->nstate = n->nin - nc - s->nscan_in;
	s->nscan_out = n->nout - s->nstate;
	if (s->nscan_in < 0 || s->nstate < 0 || s->nscan_out < 0 ||
	    s->nscan_out > IR_SCAN_MAX || body->ninputs != n->nin ||
	    body->noutputs != n->nout) {
		if (d)
			nn_error_node(d, n, "num_scan_inputs %lld, %d inputs "
				      "and %d outputs do not fit a body of %d "
				      "inputs and %d outputs", (long long)k->i,
				      n->nin - nc, n->nout,
				      body->ninputs - nc, body->noutputs);
		return false;
	}
	return read_axes(n, "scan_input_axes", s->nscan_in, s->in_axis, NULL,
			 false, d) &&
	       read_axes(n, "scan_input_directions", s->nscan_in, NULL,
			 s->in_rev, true, d) &&
	       read_axes(n, "scan_output_axes", s->nscan_out, s->out_axis,
			 NULL, false, d) &&
	       read_axes(n, "scan_output_directions", s->nscan_out, NULL,
			 s->out_rev, true, d);
}

static bool
shape_scan(ir_node *n, nn_diag *d)
{
	ir_graph *body = ir_attr_graph(n, "body");
	ir_scan s;
	if (!ir_scan_get(n, &s, d))
		return false;
	for (int k = 0; k < s.nstate; k++)
		type_input(body, k, n->in[k], false);
	s.trips = -1;
	for (int k = 0; k < s.nscan_in; k++) {
		const ir_value *x = n->in[s.nstate + k];
		int64_t ax = s.in_axis[k];
		if (!x || !ir_norm_axis(n, &ax, x->shape.rank, d))
			return false;
		if (s.trips >= 0 && x->shape.dim[ax] != s.trips) {
			nn_error_node(d, n, "scan input %d has %lld steps, the "
				      "first %lld", k,
				      (long long)x->shape.dim[ax],
				      (long long)s.trips);
			return false;
		}
		s.trips = x->shape.dim[ax];
		ir_value *b = body->inputs[s.nstate + k];
		b->dtype = x->dtype;
		b->data = NULL;
		b->shape.rank = x->shape.rank - 1;
		for (int i = 0, j = 0; i < x->shape.rank; i++)
			if (i != ax)
				b->shape.dim[j++] = x->shape.dim[i];
	}
	if (!type_captures(body, n, "body", d) || !ir_infer_shapes(body, d))
		return false;
	if (!type_carried(n, body, 0, 0, s.nstate, "state", d))
		return false;
	for (int k = 0; k < s.nscan_out; k++) {
		const ir_value *y = body->outputs[s.nstate + k];
		int64_t ax = s.out_axis[k];
		if (y->shape.rank + 1 > IR_MAX_RANK ||
		    !ir_norm_axis(n, &ax, y->shape.rank + 1, d))
			return false;
		ir_value *o = n->out[s.nstate + k];
		if (!o)
			continue;
		o->dtype = y->dtype;
		o->shape.rank = y->shape.rank + 1;
		for (int i = 0, j = 0; i < o->shape.rank; i++)
			o->shape.dim[i] = i == ax ? s.trips : y->shape.dim[j++];
	}
	return true;
}

/* Copies step t of x (shape xs) along axis ax into or out of the dense
 * slice buffer s: out of x when `gather`, else into it. */
static void
move_step(char *x, const ir_shape *xs, int ax, int64_t t, char *s,
	  size_t esz, bool gather)
{
	int64_t outer = 1, inner = 1, len = xs->dim[ax];
	for (int i = 0; i < ax; i++)
		outer *= xs->dim[i];
	for (int i = ax + 1; i < xs->rank; i++)
		inner *= xs->dim[i];
	size_t row = (size_t)inner * esz;
	for (int64_t o = 0; o < outer; o++) {
		char *p = x + ((size_t)(o * len + t)) * row;
		char *q = s + (size_t)o * row;
		if (gather)
			memcpy(q, p, row);
		else
			memcpy(p, q, row);
	}
}

static bool
eval_scan(const ir_node *n, const void *const *in, void *const *out,
	  nn_diag *d)
{
	ir_graph *body = ir_attr_graph(n, "body");
	ir_scan s;
	if (!ir_scan_get(n, &s, d))
		return false;
	int nb = n->nin, nc = ir_node_ncaptured(n), ns = s.nstate;
	const void **bin = nn_xcalloc((size_t)nb + 1, sizeof *bin);
	void **bout = nn_xcalloc((size_t)n->nout + 1, sizeof *bout);
	void **cur = nn_xcalloc((size_t)ns + 1, sizeof *cur);
	void **nxt = nn_xcalloc((size_t)ns + 1, sizeof *nxt);
	void **sl = nn_xcalloc((size_t)(s.nscan_in + s.nscan_out) + 1,
			       sizeof *sl);
	int64_t trips = s.nscan_in ? -1 : 0;
	bool ok = true;
	for (int k = 0; k < ns; k++) {
		size_t b = bytes_of(body->inputs[k]);
		cur[k] = nn_xcalloc(1, b + 1);
		nxt[k] = nn_xcalloc(1, b + 1);
		memcpy(cur[k], in[k], b);
	}
	for (int k = 0; k < s.nscan_in; k++) {
		int64_t ax = s.in_axis[k];
		const ir_value *x = n->in[ns + k];
		ax += ax < 0 ? x->shape.rank : 0;
		s.in_axis[k] = (int)ax;
		trips = x->shape.dim[ax];
		sl[k] = nn_xcalloc(1, bytes_of(body->inputs[ns + k]) + 1);
	}
	for (int k = 0; k < s.nscan_out; k++) {
		int64_t ax = s.out_axis[k];
		ax += ax < 0 ? body->outputs[ns + k]->shape.rank + 1 : 0;
		s.out_axis[k] = (int)ax;
		sl[s.nscan_in + k] =
			nn_xcalloc(1, bytes_of(body->outputs[ns + k]) + 1);
	}
	for (int k = 0; k < nc; k++)
		bin[nb - nc + k] = in[nb - nc + k];
	for (int64_t t = 0; ok && t < trips; t++) {
		for (int k = 0; k < ns; k++) {
			bin[k] = cur[k];
			bout[k] = nxt[k];
		}
		for (int k = 0; k < s.nscan_in; k++) {
			const ir_value *x = n->in[ns + k];
			move_step((char *)in[ns + k], &x->shape, s.in_axis[k],
				  s.in_rev[k] ? trips - 1 - t : t, sl[k],
				  ir_dtype_size(x->dtype), true);
			bin[ns + k] = sl[k];
		}
		for (int k = 0; k < s.nscan_out; k++)
			bout[ns + k] = sl[s.nscan_in + k];
		ok = ir_run(body, bin, bout, d);
		for (int k = 0; ok && k < s.nscan_out; k++) {
			const ir_value *o = n->out[ns + k];
			if (o)
				move_step(out[ns + k], &o->shape, s.out_axis[k],
					  s.out_rev[k] ? trips - 1 - t : t,
					  sl[s.nscan_in + k],
					  ir_dtype_size(o->dtype), false);
		}
		for (int k = 0; k < ns; k++) {
			void *p = cur[k];
			cur[k] = nxt[k];
			nxt[k] = p;
		}
	}
	for (int k = 0; ok && k < ns; k++)
		if (out[k])
			memcpy(out[k], cur[k], bytes_of(n->out[k]));
	for (int k = 0; k < ns; k++) {
		free(cur[k]);
		free(nxt[k]);
	}
	for (int k = 0; k < s.nscan_in + s.nscan_out; k++)
		free(sl[k]);
	free(sl);
	free(cur);
	free(nxt);
	free((void *)bin);
	free(bout);
	return ok;
}

/* ---------------------------------------------------------- the hooks */

bool
ir_shape_control(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	switch (n->op) {
	case OP_If: return shape_if(n, d);
	case OP_Loop: return shape_loop(n, d);
	case OP_Scan: return shape_scan(n, d);
	default: nn_unreachable();
	}
}

bool
ir_eval_control(const ir_node *n, const void *const *in, void *const *out,
		nn_diag *d)
{
	switch (n->op) {
	case OP_If: return eval_if(n, in, out, d);
	case OP_Loop: return eval_loop(n, in, out, d);
	case OP_Scan: return eval_scan(n, in, out, d);
	default: nn_unreachable();
	}
}

/* ---------------------------------------------------------- inlining */

/* Node n's output i becomes v: its uses, and its name (a graph output's,
 * in the generated API) when v is computed by one of the new nodes. */
static void
replace_output(ir_graph *g, ir_node *n, int i, ir_value *v)
{
	if (!n->out[i])
		return;
	if (v->def && n->out[i]->name)
		v->name = n->out[i]->name;
	ir_replace_uses(g, n->out[i], v);
}

void
ir_inline_if(ir_graph *g, ir_node *n)
{
	ir_graph *b = taken_branch(n);
	NN_ASSERT(b);
	ir_value **outs = ir_inline_graph(g, n, b, n->in + 1);
	for (int i = 0; i < n->nout; i++)
		replace_output(g, n, i, outs[i]);
	free(outs);
	ir_remove_node(g, n);
}

/* Unrolled loops are at most this many nodes. */
#define UNROLL_MAX_NODES 4096

bool
ir_loop_unrolls(const ir_node *n)
{
	ir_graph *body = ir_attr_graph(n, "body");
	int64_t t = n->op == OP_Loop ? ir_loop_trips(n) : -1;
	int nv = n->nin - 2 - ir_node_ncaptured(n);
	/* a loop that never runs keeps its scan outputs' types from the
	 * body's inference */
	return t >= 0 && body && (t > 0 || nv == n->nout) &&
	       t * (body->nnodes + 2) <= UNROLL_MAX_NODES;
}

ir_node *
ir_unroll_loop(ir_graph *g, ir_node *n)
{
	ir_graph *body = ir_attr_graph(n, "body");
	int64_t trips = ir_loop_trips(n);
	int nc = ir_node_ncaptured(n), nv = n->nin - 2 - nc;
	int nscan = n->nout - nv;
	ir_node *prev = n->prev;
	ir_value **args = nn_xcalloc((size_t)n->nin + 1, sizeof *args);
	ir_value ***scan = nn_xcalloc((size_t)nscan + 1, sizeof *scan);
	uint8_t yes = 1;
	ir_shape one = {.rank = 1, .dim = {1}}, scalar = {.rank = 0};
	ir_value *cond = ir_add_const(g, NULL, IR_BOOL, &scalar, &yes);
	ir_value *axis0 = NULL;
	for (int k = 0; k < n->nin; k++)
		args[k] = n->in[k];
	args[1] = cond;
	for (int k = 0; k < nscan; k++)
		scan[k] = nn_xcalloc((size_t)trips + 1, sizeof **scan);
	for (int64_t it = 0; it < trips; it++) {
		args[0] = ir_add_const(g, NULL, IR_I64, &scalar, &it);
		ir_value **outs = ir_inline_graph(g, n, body, args);
		for (int k = 0; k < nv; k++)
			args[2 + k] = outs[1 + k];
		for (int k = 0; k < nscan; k++)
			scan[k][it] = outs[1 + nv + k];
		free(outs);
	}
	for (int k = 0; k < nv; k++)
		replace_output(g, n, k, args[2 + k]);
	if (nscan > 0) {
		int64_t zero = 0;
		axis0 = ir_add_const(g, NULL, IR_I64, &one, &zero);
	}
	for (int k = 0; k < nscan; k++) {
		ir_value **parts = nn_xcalloc((size_t)trips + 1, sizeof *parts);
		for (int64_t it = 0; it < trips; it++) {
			ir_value *u[2] = {scan[k][it], axis0};
			parts[it] = ir_insert_node(g, n, OP_Unsqueeze, NULL, 2, u,
						   1)->out[0];
		}
		ir_node *c = ir_insert_node(g, n, OP_Concat, NULL, (int)trips,
					    parts, 1);
		ir_set_attr(g, c, "axis", IR_ATTR_INT)->i = 0;
		replace_output(g, n, nv + k, c->out[0]);
		free(parts);
		free(scan[k]);
	}
	free(scan);
	free(args);
	ir_node *first = prev ? prev->next : g->first;
	ir_node *after = n->next;
	ir_remove_node(g, n);
	ir_number_values(g);
	return first == n ? after : first;
}

/* Inlines the known Ifs of g, not looking inside subgraphs (their Ifs
 * come up once their own If is inlined); returns how many. */
static int
inline_known(ir_graph *g)
{
	int k = 0;
	for (ir_node *n = g->first, *next; n; n = next) {
		next = n->next;
		if (n->op == OP_If && taken_branch(n)) {
			ir_inline_if(g, n);
			k++;
		}
	}
	return k;
}

bool
ir_fold_ifs(ir_graph *g, nn_diag *d)
{
	while (inline_known(g) > 0)
		if (!ir_infer_shapes(g, d))
			return false;
	return true;
}
