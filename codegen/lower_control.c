/* If, Loop and Scan: each graph attribute becomes an internal function of
 * the run function's signature (ins, outs, ws) -> status, planned on its
 * own (cg_build_graph_fn); the node's function builds the pointer arrays
 * and calls it: If once on the branch the condition picks, Loop while its
 * condition holds (the loop-carried values ping-pong between two scratch
 * buffers), Scan once per step on slices of its scan inputs. A subgraph's
 * non-zero status is the node's. The node's scratch holds the subgraph's
 * arena, then the loop state (scratch_layout). */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

#define ALIGN 64

static int64_t
bytes_of(const ir_value *v)
{
	return ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(v->dtype);
}

static int64_t
up(int64_t x)
{
	return (x + ALIGN - 1) / ALIGN * ALIGN;
}

/* The workspace bytes of subgraph g's plan (0 if it cannot be planned:
 * cg_lower_control then reports why). */
static int64_t
sub_arena(ir_graph *g)
{
	nn_diag q;
	nn_diag_init(&q, "nncc", NULL);
	cg_plan *p = cg_plan_build(g, NULL, &q);
	int64_t a = p ? p->arena_size : 0;
	cg_plan_free(p);
	return a;
}

/* Offsets into the node's scratch. Loop: iter (i64), cond and cond_out
 * (i8), then per state cur and nxt; a scan input or output read or
 * written other than in place (another axis than 0, or an output the
 * graph does not use) gets a slice buffer (else -1). */
typedef struct layout {
	int64_t iter, cond, cond_out;
	int64_t *cur, *nxt, *sin, *sout, *unused; /* unused: If outputs */
	int64_t total;
} layout;

static void
layout_free(layout *L)
{
	free(L->cur);
	free(L->nxt);
	free(L->sin);
	free(L->sout);
	free(L->unused);
}

static int64_t
take(int64_t *at, int64_t n)
{
	int64_t o = *at;
	*at += up(n > 0 ? n : 1);
	return o;
}

/* The scan input and output axes of Scan n, made non-negative. */
static void
scan_axes(const ir_node *n, ir_scan *s)
{
	ir_graph *body = ir_attr_graph(n, "body");
	for (int k = 0; k < s->nscan_in; k++)
		if (s->in_axis[k] < 0)
			s->in_axis[k] += n->in[s->nstate + k]->shape.rank;
	for (int k = 0; k < s->nscan_out; k++)
		if (s->out_axis[k] < 0)
			s->out_axis[k] +=
				body->outputs[s->nstate + k]->shape.rank + 1;
}

static void
scratch_layout(const ir_node *n, layout *L)
{
	int64_t at = 0, a = 0;
	memset(L, 0, sizeof *L);
	/* an If with a known condition runs (and inference typed) only the
	 * branch it takes */
	const uint8_t *known = n->op == OP_If ? n->in[0]->data : NULL;
	const char *skip = known ? (*known ? "else_branch" : "then_branch")
				 : "";
	for (int i = 0; i < n->nattrs; i++)
		if (n->attrs[i].kind == IR_ATTR_GRAPH &&
		    strcmp(n->attrs[i].name, skip)) {
			int64_t s = sub_arena(n->attrs[i].g);
			a = s > a ? s : a;
		}
	at = up(a);
	L->unused = nn_xcalloc((size_t)n->nout + 1, sizeof *L->unused);
	if (n->op == OP_If) {
		ir_graph *t = ir_attr_graph(n, known && !*known ? "else_branch"
							  : "then_branch");
		for (int i = 0; i < n->nout; i++)
			L->unused[i] = n->out[i] ? -1
				       : take(&at, bytes_of(t->outputs[i]));
		L->total = at;
		return;
	}
	ir_graph *body = ir_attr_graph(n, "body");
	int ns, nsi = 0, nso = 0, first = 0;
	ir_scan s = {0};
	if (n->op == OP_Loop) {
		ns = n->nin - 2 - ir_node_ncaptured(n);
		nso = n->nout - ns;
		first = 2;
		L->iter = take(&at, 8);
		L->cond = take(&at, 1);
		L->cond_out = take(&at, 1);
	} else {
		ir_scan_get(n, &s, NULL);
		scan_axes(n, &s);
		ns = s.nstate;
		nsi = s.nscan_in;
		nso = s.nscan_out;
	}
	L->cur = nn_xcalloc((size_t)ns + 1, sizeof *L->cur);
	L->nxt = nn_xcalloc((size_t)ns + 1, sizeof *L->nxt);
	L->sin = nn_xcalloc((size_t)nsi + 1, sizeof *L->sin);
	L->sout = nn_xcalloc((size_t)nso + 1, sizeof *L->sout);
	for (int k = 0; k < ns; k++) {
		int64_t b = bytes_of(body->inputs[first + k]);
		L->cur[k] = take(&at, b);
		L->nxt[k] = take(&at, b);
	}
	for (int k = 0; k < nsi; k++)
		L->sin[k] = s.in_axis[k] == 0 ? -1
			    : take(&at, bytes_of(body->inputs[ns + k]));
	for (int k = 0; k < nso; k++) {
		int o = ns + k;
		bool direct = n->out[o] && (n->op == OP_Loop ||
					    s.out_axis[k] == 0);
		L->sout[k] = direct ? -1 : take(&at,
			bytes_of(body->outputs[(n->op == OP_Loop) + o]));
	}
	L->total = at;
}

int64_t
cg_control_scratch_bytes(const ir_node *n)
{
	layout L;
	scratch_layout(n, &L);
	layout_free(&L);
	return L.total;
}

/* ------------------------------------------------------------------ */

static LLVMValueRef
at_scratch(cg_fn *f, int64_t off)
{
	LLVMValueRef i = cg_i64(f, off);
	return LLVMBuildInBoundsGEP2(f->b, f->c->i8, f->scratch, &i, 1, "");
}

static LLVMValueRef
as_i8(cg_fn *f, LLVMValueRef p)
{
	return p ? LLVMBuildBitCast(f->b, p, f->c->ptr, "")
		 : LLVMConstNull(f->c->ptr);
}

/* byte offset off (i64) into p */
static LLVMValueRef
at_byte(cg_fn *f, LLVMValueRef p, LLVMValueRef off)
{
	return LLVMBuildInBoundsGEP2(f->b, f->c->i8, as_i8(f, p), &off, 1, "");
}

/* An array of n pointers (in the entry block) and its slot i. */
static LLVMValueRef
ptr_array(cg_fn *f, int n)
{
	return cg_alloca(f, LLVMArrayType(f->c->ptr, (unsigned)(n > 0 ? n
								      : 1)));
}

static void
set_slot(cg_fn *f, LLVMValueRef arr, int n, int i, LLVMValueRef p)
{
	LLVMValueRef idx[2] = {cg_i64(f, 0), cg_i64(f, i)};
	LLVMTypeRef t = LLVMArrayType(f->c->ptr, (unsigned)(n > 0 ? n : 1));
	LLVMBuildStore(f->b, as_i8(f, p),
		       LLVMBuildInBoundsGEP2(f->b, t, arr, idx, 2, ""));
}

static LLVMValueRef
array_ptr(cg_fn *f, LLVMValueRef arr)
{
	return LLVMBuildBitCast(f->b, arr, LLVMPointerType(f->c->ptr, 0), "");
}

/* The function of subgraph g, named after the node's function. */
static LLVMValueRef
sub_fn(cg_fn *f, ir_graph *g, const char *tag)
{
	size_t len;
	const char *base = LLVMGetValueName2(f->fn, &len);
	char name[320];
	snprintf(name, sizeof name, "%.*s_%s", (int)len, base, tag);
	cg_plan *p = cg_plan_build(g, NULL, f->c->d);
	LLVMValueRef fn = p ? cg_build_graph_fn(f->c, g, p, name) : NULL;
	cg_plan_free(p);
	return fn;
}

/* Calls fn(ins, outs, scratch); a non-zero status returns at once. */
static void
call_sub(cg_fn *f, LLVMValueRef fn, LLVMValueRef ins, LLVMValueRef outs)
{
	LLVMValueRef args[3] = {array_ptr(f, ins), array_ptr(f, outs),
				f->scratch ? f->scratch
					   : LLVMConstNull(f->c->ptr)};
	LLVMValueRef st = LLVMBuildCall2(f->b, LLVMGetElementType(
		LLVMTypeOf(fn)), fn, args, 3, "");
	LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(f->c->ctx,
							       f->fn, "fail");
	LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn,
							     "ok");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntNE, st,
		LLVMConstInt(f->c->i32, 0, 0), ""), fail, ok);
	LLVMPositionBuilderAtEnd(f->b, fail);
	LLVMBuildRet(f->b, st);
	LLVMPositionBuilderAtEnd(f->b, ok);
}

static LLVMValueRef
load_bool(cg_fn *f, LLVMValueRef p)
{
	LLVMValueRef v = LLVMBuildLoad2(f->b, f->c->i8, as_i8(f, p), "");
	return LLVMBuildICmp(f->b, LLVMIntNE, v, LLVMConstInt(f->c->i8, 0, 0),
			     "");
}

static bool
lower_if(cg_fn *f, const layout *L)
{
	const ir_node *n = f->n;
	int nc = n->nin - 1;
	/* a condition known at compile time (-O0 does not inline the If):
	 * only the branch taken, which alone inference typed */
	const uint8_t *known = n->in[0]->data;
	LLVMValueRef fns[2] = {NULL, NULL};
	if (!known || *known)
		fns[0] = sub_fn(f, ir_attr_graph(n, "then_branch"), "then");
	if (!known || !*known)
		fns[1] = sub_fn(f, ir_attr_graph(n, "else_branch"), "else");
	if (known ? !fns[*known ? 0 : 1] : !fns[0] || !fns[1])
		return false;
	LLVMValueRef ins = ptr_array(f, nc), outs = ptr_array(f, n->nout);
	for (int k = 0; k < nc; k++)
		set_slot(f, ins, nc, k, f->in[1 + k]);
	for (int i = 0; i < n->nout; i++)
		set_slot(f, outs, n->nout, i, f->out[i] ? f->out[i]
			 : at_scratch(f, L->unused[i]));
	if (known) {
		call_sub(f, fns[*known ? 0 : 1], ins, outs);
		return true;
	}
	LLVMBasicBlockRef bb[2] = {
		LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "then"),
		LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "else")};
	LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(f->c->ctx,
							       f->fn, "join");
	LLVMBuildCondBr(f->b, load_bool(f, f->in[0]), bb[0], bb[1]);
	for (int b = 0; b < 2; b++) {
		LLVMPositionBuilderAtEnd(f->b, bb[b]);
		call_sub(f, fns[b], ins, outs);
		LLVMBuildBr(f->b, join);
	}
	LLVMPositionBuilderAtEnd(f->b, join);
	return true;
}

/* A pointer variable (entry-block slot) holding p. */
static LLVMValueRef
ptr_var(cg_fn *f, LLVMValueRef p)
{
	LLVMValueRef v = cg_alloca(f, f->c->ptr);
	LLVMBuildStore(f->b, as_i8(f, p), v);
	return v;
}

static LLVMValueRef
load_ptr(cg_fn *f, LLVMValueRef var)
{
	return LLVMBuildLoad2(f->b, f->c->ptr, var, "");
}

/* Swaps the buffers of the states: cur[k] <-> nxt[k]. */
static void
swap_vars(cg_fn *f, LLVMValueRef *cur, LLVMValueRef *nxt, int n)
{
	for (int k = 0; k < n; k++) {
		LLVMValueRef a = load_ptr(f, cur[k]), b = load_ptr(f, nxt[k]);
		LLVMBuildStore(f->b, b, cur[k]);
		LLVMBuildStore(f->b, a, nxt[k]);
	}
}

/* The states' two buffers each, cur holding the initial values in[k]. */
static void
init_states(cg_fn *f, const layout *L, const ir_graph *body, int first,
	    int n, LLVMValueRef *cur, LLVMValueRef *nxt)
{
	for (int k = 0; k < n; k++) {
		cur[k] = ptr_var(f, at_scratch(f, L->cur[k]));
		nxt[k] = ptr_var(f, at_scratch(f, L->nxt[k]));
		cg_memcpy(f, at_scratch(f, L->cur[k]), cg_i64(f, 0),
			  f->in[first + k], cg_i64(f, 0),
			  bytes_of(body->inputs[first + k]));
	}
}

static void
final_states(cg_fn *f, const ir_graph *body, int first, int n,
	     LLVMValueRef *cur)
{
	for (int k = 0; k < n; k++)
		if (f->out[k])
			cg_memcpy(f, f->out[k], cg_i64(f, 0), load_ptr(f, cur[k]),
				  cg_i64(f, 0), bytes_of(body->inputs[first + k]));
}

static bool
lower_loop(cg_fn *f, const layout *L)
{
	const ir_node *n = f->n;
	ir_graph *body = ir_attr_graph(n, "body");
	int nb = n->nin, nc = ir_node_ncaptured(n), nv = nb - 2 - nc;
	LLVMValueRef fn = sub_fn(f, body, "body");
	if (!fn)
		return false;
	LLVMValueRef ins = ptr_array(f, nb), outs = ptr_array(f, n->nout + 1);
	LLVMValueRef *cur = nn_xcalloc((size_t)nv + 1, sizeof *cur);
	LLVMValueRef *nxt = nn_xcalloc((size_t)nv + 1, sizeof *nxt);
	LLVMValueRef iter = at_scratch(f, L->iter), cond = at_scratch(f, L->cond);
	LLVMValueRef cond_out = at_scratch(f, L->cond_out);
	LLVMValueRef ip = LLVMBuildBitCast(f->b, iter,
					   LLVMPointerType(f->c->i64, 0), "");
	LLVMBuildStore(f->b, cg_i64(f, 0), ip);
	LLVMBuildStore(f->b, f->in[1] ? LLVMBuildLoad2(f->b, f->c->i8,
		as_i8(f, f->in[1]), "") : LLVMConstInt(f->c->i8, 1, 0), cond);
	init_states(f, L, body, 2, nv, cur, nxt);
	set_slot(f, ins, nb, 0, iter);
	set_slot(f, ins, nb, 1, cond);
	for (int k = 0; k < nc; k++)
		set_slot(f, ins, nb, nb - nc + k, f->in[nb - nc + k]);
	set_slot(f, outs, n->nout + 1, 0, cond_out);
	LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(f->c->ctx,
							       f->fn, "head");
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(f->c->ctx,
							       f->fn, "body");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(f->c->ctx,
							       f->fn, "done");
	LLVMBuildBr(f->b, head);
	LLVMPositionBuilderAtEnd(f->b, head);
	LLVMValueRef i = LLVMBuildLoad2(f->b, f->c->i64, ip, "");
	LLVMValueRef go = load_bool(f, cond);
	if (f->in[0])
		go = LLVMBuildAnd(f->b, go, LLVMBuildICmp(f->b, LLVMIntSLT, i,
			LLVMBuildLoad2(f->b, f->c->i64, f->in[0], ""), ""), "");
	LLVMBuildCondBr(f->b, go, loop, done);
	LLVMPositionBuilderAtEnd(f->b, loop);
	for (int k = 0; k < nv; k++) {
		set_slot(f, ins, nb, 2 + k, load_ptr(f, cur[k]));
		set_slot(f, outs, n->nout + 1, 1 + k, load_ptr(f, nxt[k]));
	}
	for (int k = nv; k < n->nout; k++) {
		int64_t sb = bytes_of(body->outputs[1 + k]);
		LLVMValueRef dst = L->sout[k - nv] >= 0
			? at_scratch(f, L->sout[k - nv])
			: at_byte(f, f->out[k], cg_imul(f, i, sb));
		set_slot(f, outs, n->nout + 1, 1 + k, dst);
	}
	call_sub(f, fn, ins, outs);
	swap_vars(f, cur, nxt, nv);
	LLVMBuildStore(f->b, LLVMBuildLoad2(f->b, f->c->i8, cond_out, ""),
		       cond);
	LLVMBuildStore(f->b, LLVMBuildNSWAdd(f->b, i, cg_i64(f, 1), ""), ip);
	LLVMBuildBr(f->b, head);
	LLVMPositionBuilderAtEnd(f->b, done);
	final_states(f, body, 2, nv, cur);
	free(cur);
	free(nxt);
	return true;
}

/* Moves step t (i64) along axis ax of x (shape s, element size esz)
 * to or from the dense slice buffer sl: rows of the axes after ax. */
static void
move_step(cg_fn *f, LLVMValueRef x, const ir_shape *s, int ax,
	  LLVMValueRef t, LLVMValueRef sl, size_t esz, bool gather)
{
	int64_t outer = 1, inner = 1, len = s->dim[ax];
	for (int i = 0; i < ax; i++)
		outer *= s->dim[i];
	for (int i = ax + 1; i < s->rank; i++)
		inner *= s->dim[i];
	int64_t row = inner * (int64_t)esz;
	if (outer == 0 || row == 0)
		return;
	cg_loop l;
	LLVMValueRef o = cg_loop_begin(f, outer, &l);
	LLVMValueRef xo = cg_imul(f, cg_iadd(f, cg_imul(f, o, len), t), row);
	LLVMValueRef so = cg_imul(f, o, row);
	if (gather)
		cg_memcpy(f, sl, so, x, xo, row);
	else
		cg_memcpy(f, x, xo, sl, so, row);
	cg_loop_end(f, &l);
}

static bool
lower_scan(cg_fn *f, const layout *L)
{
	const ir_node *n = f->n;
	ir_graph *body = ir_attr_graph(n, "body");
	ir_scan s;
	if (!ir_scan_get(n, &s, f->c->d))
		return false;
	scan_axes(n, &s);
	int nb = n->nin, nc = ir_node_ncaptured(n), ns = s.nstate;
	int64_t trips = s.nscan_in ? n->in[ns]->shape.dim[s.in_axis[0]] : 0;
	LLVMValueRef fn = sub_fn(f, body, "body");
	if (!fn)
		return false;
	LLVMValueRef ins = ptr_array(f, nb), outs = ptr_array(f, n->nout);
	LLVMValueRef *cur = nn_xcalloc((size_t)ns + 1, sizeof *cur);
	LLVMValueRef *nxt = nn_xcalloc((size_t)ns + 1, sizeof *nxt);
	init_states(f, L, body, 0, ns, cur, nxt);
	for (int k = 0; k < nc; k++)
		set_slot(f, ins, nb, nb - nc + k, f->in[nb - nc + k]);
	if (trips > 0) {
		cg_loop l;
		LLVMValueRef it = cg_loop_begin(f, trips, &l);
		LLVMValueRef back = LLVMBuildSub(f->b, cg_i64(f, trips - 1), it,
						 "");
		for (int k = 0; k < ns; k++) {
			set_slot(f, ins, nb, k, load_ptr(f, cur[k]));
			set_slot(f, outs, n->nout, k, load_ptr(f, nxt[k]));
		}
		for (int k = 0; k < s.nscan_in; k++) {
			const ir_value *x = n->in[ns + k];
			LLVMValueRef t = s.in_rev[k] ? back : it;
			LLVMValueRef p;
			if (L->sin[k] < 0) {
				p = at_byte(f, f->in[ns + k], cg_imul(f, t,
					bytes_of(body->inputs[ns + k])));
			} else {
				p = at_scratch(f, L->sin[k]);
				move_step(f, f->in[ns + k], &x->shape,
					  s.in_axis[k], t, p,
					  ir_dtype_size(x->dtype), true);
			}
			set_slot(f, ins, nb, ns + k, p);
		}
		for (int k = 0; k < s.nscan_out; k++) {
			LLVMValueRef t = s.out_rev[k] ? back : it;
			LLVMValueRef p = L->sout[k] >= 0
				? at_scratch(f, L->sout[k])
				: at_byte(f, f->out[ns + k], cg_imul(f, t,
					bytes_of(body->outputs[ns + k])));
			set_slot(f, outs, n->nout, ns + k, p);
		}
		call_sub(f, fn, ins, outs);
		for (int k = 0; k < s.nscan_out; k++) {
			const ir_value *o = n->out[ns + k];
			if (L->sout[k] >= 0 && o)
				move_step(f, f->out[ns + k], &o->shape,
					  s.out_axis[k], s.out_rev[k] ? back : it,
					  at_scratch(f, L->sout[k]),
					  ir_dtype_size(o->dtype), false);
		}
		swap_vars(f, cur, nxt, ns);
		cg_loop_end(f, &l);
	}
	final_states(f, body, 0, ns, cur);
	free(cur);
	free(nxt);
	return true;
}

bool
cg_lower_control(cg_fn *f)
{
	layout L;
	bool ok;
	scratch_layout(f->n, &L);
	switch (f->n->op) {
	case OP_If: ok = lower_if(f, &L); break;
	case OP_Loop: ok = lower_loop(f, &L); break;
	case OP_Scan: ok = lower_scan(f, &L); break;
	default: nn_unreachable();
	}
	layout_free(&L);
	return ok;
}
