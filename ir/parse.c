/* The IR text parser: reads what print.c writes (and a little more: splat
 * for small constants, seeded random fills, `?` dims) back into a graph.
 * Errors are reported at line:col. The grammar is in docs/ir.md. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ------------------------------------------------------------------ */
/* Attributes */

/* An attribute float: text with at most 9 significant digits is an f32
 * (what the printer writes for ONNX's f32 attributes, and what a person
 * writes), longer text a double (the printer's 17-digit form). */
static double
attr_float(const char *text)
{
	int digits = 0;
	bool leading = true;
	for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p < '0' || *p > '9')
			continue;
		leading = leading && *p == '0';
		digits += !leading;
	}
	if (digits <= 9)
		return (double)strtof(text, NULL);
	return strtod(text, NULL);
}

static bool
is_float_tok(const parser *P)
{
	return P->tok.kind == T_FLOAT || ir_lex_is_ident(P, "nan") ||
	       ir_lex_is_ident(P, "inf");
}

/* A list attribute [..] into a; the element kind comes from the tokens,
 * or from the schema (`want`) for an empty list. */
static bool
parse_attr_list(parser *P, ir_attr *a, ir_attr_kind want)
{
	ir_graph *g = P->g;
	int cap = 0;
	ir_lex_next(P);
	a->kind = want == IR_ATTR_FLOATS || want == IR_ATTR_STRINGS
	                  ? want
	                  : IR_ATTR_INTS;
	bool floats = false, strings = false, nums = false;
	while (!P->failed && !ir_lex_is_punct(P, ']')) {
		if (a->n && !ir_lex_expect_punct(P, ','))
			return false;
		if (a->n == cap) {
			cap = cap ? 2 * cap : 8;
			int64_t *ints =
			        nn_alloc_array(g->arena, (size_t)cap, 8);
			double *fl = nn_alloc_array(g->arena, (size_t)cap, 8);
			const char **st = nn_alloc_array(g->arena, (size_t)cap,
			                                 sizeof *st);
			if (a->n) {
				memcpy(ints, a->ints, (size_t)a->n * 8);
				memcpy(fl, a->floats, (size_t)a->n * 8);
				memcpy(st, a->strings,
				       (size_t)a->n * sizeof *st);
			}
			a->ints = ints, a->floats = fl, a->strings = st;
		}
		if (P->tok.kind == T_STRING) {
			strings = true;
			a->strings[a->n] = ir_intern(g, P->tok.str);
		} else if (P->tok.kind == T_INT || is_float_tok(P)) {
			nums = true;
			floats |= P->tok.kind != T_INT;
			errno = 0;
			a->ints[a->n] = strtoll(P->tok.str, NULL, 0);
			/* Like a scalar: saturating would change the value. */
			if (P->tok.kind == T_INT && errno) {
				ir_lex_err(P, &P->tok, "integer out of range");
				return false;
			}
			a->floats[a->n] = P->tok.kind == T_INT
			                          ? (double)a->ints[a->n]
			                          : attr_float(P->tok.str);
		} else {
			ir_lex_expected(P, "a number or a string");
			return false;
		}
		a->n++;
		ir_lex_next(P);
	}
	if (P->failed)
		return false;
	ir_lex_next(P);
	if (strings && nums) {
		ir_lex_err(P, &P->tok, "list mixes strings and numbers");
		return false;
	}
	if (a->n)
		a->kind = strings                            ? IR_ATTR_STRINGS
		          : floats || want == IR_ATTR_FLOATS ? IR_ATTR_FLOATS
		                                             : IR_ATTR_INTS;
	return true;
}

static bool
parse_tensor_attr(parser *P, ir_attr *a)
{
	ir_tensor *t = nn_alloc(P->g->arena, sizeof *t);
	int64_t n;
	ir_lex_next(P);
	if (!ir_lex_expect_punct(P, '<'))
		return false;
	token at = P->tok;
	if (!ir_parse_type(P, &t->dtype, &t->shape) ||
	    !ir_lex_expect_punct(P, ':') ||
	    !ir_parse_numel(P, &at, &t->shape, t->dtype, &n) ||
	    !ir_parse_data_fits(P, &at, t->dtype, &t->shape, n))
		return false;
	t->data = nn_alloc(P->g->arena, (size_t)n * ir_dtype_size(t->dtype));
	if (!ir_parse_data(P, t->data, t->dtype, &t->shape, n))
		return false;
	a->kind = IR_ATTR_TENSOR;
	a->t = t;
	return ir_lex_expect_punct(P, '>');
}

static bool parse_graph_attr(parser *P, ir_attr *a);

static bool
parse_attr_value(parser *P, ir_attr *a, ir_attr_kind want)
{
	token *t = &P->tok;
	if (t->kind == T_INT) {
		a->kind = IR_ATTR_INT;
		errno = 0;
		a->i = strtoll(t->str, NULL, 0);
		a->f = (double)a->i;
		if (errno) {
			ir_lex_err(P, t, "integer out of range");
			return false;
		}
	} else if (is_float_tok(P)) {
		a->kind = IR_ATTR_FLOAT;
		a->f = attr_float(t->str);
	} else if (t->kind == T_STRING) {
		a->kind = IR_ATTR_STRING;
		a->s = ir_intern(P->g, t->str);
	} else if (ir_lex_is_punct(P, '[')) {
		return parse_attr_list(P, a, want);
	} else if (ir_lex_is_ident(P, "tensor")) {
		return parse_tensor_attr(P, a);
	} else if (ir_lex_is_ident(P, "graph")) {
		return parse_graph_attr(P, a);
	} else {
		ir_lex_expected(P, "an attribute value");
		return false;
	}
	ir_lex_next(P);
	return true;
}

/* name=value; an int where the schema wants a float is converted, any
 * other disagreement with attrs.def (an unknown name, another kind) is an
 * error. */
static bool
parse_attr(parser *P, ir_node *n)
{
	token name = P->tok;
	if (name.kind != T_IDENT && name.kind != T_STRING) {
		ir_lex_expected(P, "an attribute name");
		return false;
	}
	name.str = nn_xstrdup(P->tok.str);
	ir_attr_kind want = ir_attr_schema(n->op, name.str);
	ir_attr a = {0};
	ir_lex_next(P);
	bool ok = ir_lex_expect_punct(P, '=') && parse_attr_value(P, &a, want);
	if (ok && want == IR_NATTR_KINDS) {
		/* as the ONNX importer: attrs.def is the whole schema, which
		 * also bounds a node's attributes (each insertion copies the
		 * sorted array, so 20,000 unknown names took a minute) */
		ir_lex_err(P, &name, "unknown attribute '%s' of %s", name.str,
		           ir_ops[n->op].name);
		ok = false;
	} else if (ok && a.kind != want) {
		if (want == IR_ATTR_FLOAT && a.kind == IR_ATTR_INT) {
			a.kind = IR_ATTR_FLOAT;
		} else if (want == IR_ATTR_FLOATS && a.kind == IR_ATTR_INTS) {
			a.kind = IR_ATTR_FLOATS;
		} else {
			ir_lex_err(P, &name,
			           "attribute '%s' of %s is %s, not %s",
			           name.str, ir_ops[n->op].name,
			           ir_attr_kind_name(want),
			           ir_attr_kind_name(a.kind));
			ok = false;
		}
	}
	if (ok && ir_get_attr(n, name.str)) {
		ir_lex_err(P, &name, "attribute '%s' given twice", name.str);
		ok = false;
	}
	if (ok) {
		ir_attr *dst = ir_set_attr(P->g, n, name.str, a.kind);
		a.name = dst->name;
		*dst = a;
	}
	free(name.str);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Statements and the graph */

/* A value use: %x must be defined already. */
static bool
parse_use(parser *P, ir_value **v)
{
	if (P->tok.kind != T_VALUE) {
		ir_lex_expected(P, "a value");
		return false;
	}
	*v = ir_sym_get(P, &P->tok);
	if (!*v) {
		ir_lex_err(P, &P->tok, "use of undefined value '%%%s'",
		           P->tok.str);
		return false;
	}
	ir_lex_next(P);
	return true;
}

static bool
parse_operands(parser *P, ir_value ***in, int *nin)
{
	int cap = 0;
	if (!ir_lex_expect_punct(P, '('))
		return false;
	while (!P->failed && !ir_lex_is_punct(P, ')')) {
		if (*nin && !ir_lex_expect_punct(P, ','))
			return false;
		if (*nin == cap) {
			cap = cap ? 2 * cap : 8;
			*in = nn_xrealloc(*in, (size_t)cap * sizeof **in);
		}
		(*in)[*nin] = NULL;
		if (ir_lex_is_ident(P, "none"))
			ir_lex_next(P);
		else if (!parse_use(P, &(*in)[*nin]))
			return false;
		(*nin)++;
	}
	return ir_lex_expect_punct(P, ')');
}

/* After the operands: {attrs} : types loc("name"). */
static bool
parse_node_tail(parser *P, ir_node *n, token *res)
{
	if (ir_lex_is_punct(P, '{')) {
		ir_lex_next(P);
		while (!P->failed && !ir_lex_is_punct(P, '}')) {
			if (n->nattrs && !ir_lex_expect_punct(P, ','))
				return false;
			if (!parse_attr(P, n))
				return false;
		}
		if (!ir_lex_expect_punct(P, '}'))
			return false;
	}
	if (!ir_lex_expect_punct(P, ':'))
		return false;
	for (int i = 0, k = 0; i < n->nout; i++) {
		if (!n->out[i])
			continue;
		if (k++ && !ir_lex_expect_punct(P, ','))
			return false;
		if (!ir_parse_type(P, &n->out[i]->dtype, &n->out[i]->shape))
			return false;
		if (!res[i].numbered)
			n->out[i]->name = ir_intern(P->g, res[i].str);
	}
	if (ir_lex_is_punct(P, ',')) {
		ir_lex_err(P, &P->tok, "more types than results");
		return false;
	}
	if (ir_lex_is_ident(P, "loc")) {
		ir_lex_next(P);
		if (!ir_lex_expect_punct(P, '('))
			return false;
		if (P->tok.kind != T_STRING) {
			ir_lex_expected(P, "a quoted node name");
			return false;
		}
		n->name = ir_intern(P->g, P->tok.str);
		ir_lex_next(P);
		return ir_lex_expect_punct(P, ')');
	}
	return true;
}

static bool
parse_node(parser *P, token *res, int nres)
{
	token optok = P->tok;
	char buf[64];
	if (optok.kind != T_IDENT) {
		ir_lex_expected(P, "an op name or 'const'");
		return false;
	}
	ir_op op = ir_op_lookup(optok.str);
	if (op == IR_NOPS) {
		ir_lex_err(P, &optok, "unknown op '%s'",
		           ir_lex_tok_text(&optok, buf, sizeof buf));
		return false;
	}
	ir_lex_next(P);
	ir_value **in = NULL;
	int nin = 0;
	bool ok = parse_operands(P, &in, &nin);
	if (ok) {
		ir_node *n = ir_add_node(P->g, op, NULL, nin, in, nres);
		for (int i = 0; i < nres; i++)
			if (res[i].kind != T_VALUE)
				n->out[i] = NULL;
		ok = parse_node_tail(P, n, res);
		for (int i = 0; ok && i < nres; i++)
			if (n->out[i])
				ir_sym_put(P, &res[i], n->out[i]);
	}
	free(in);
	return ok;
}

static bool
parse_results(parser *P, token *res, int *nres, int max)
{
	for (;;) {
		if (*nres == max) {
			ir_lex_err(P, &P->tok, "more than %d results", max);
			return false;
		}
		token *r = &res[*nres];
		*r = P->tok;
		r->str = NULL;
		if (ir_lex_is_ident(P, "_")) {
			r->kind = T_IDENT;
		} else if (P->tok.kind == T_VALUE) {
			r->str = nn_xstrdup(P->tok.str);
			(*nres)++; /* counted now, so the caller frees str */
			if (!ir_sym_fresh(P, r))
				return false;
			for (int i = 0; i < *nres - 1; i++)
				if (res[i].str &&
				    res[i].numbered == r->numbered &&
				    !strcmp(res[i].str, r->str)) {
					ir_lex_err(
					        P, r,
					        "redefinition of value '%%%s'",
					        r->str);
					return false;
				}
		} else {
			ir_lex_expected(P, "a value to define");
			return false;
		}
		if (r->kind != T_VALUE)
			(*nres)++;
		ir_lex_next(P);
		if (!ir_lex_is_punct(P, ','))
			return true;
		ir_lex_next(P);
	}
}

#define MAX_RESULTS 64

static bool
parse_stmt(parser *P)
{
	token res[MAX_RESULTS];
	int nres = 0;
	bool ok = parse_results(P, res, &nres, MAX_RESULTS) &&
	          ir_lex_expect_punct(P, '=');
	if (ok && ir_lex_is_ident(P, "const")) {
		if (nres != 1 || res[0].kind != T_VALUE) {
			ir_lex_err(P, &P->tok,
			           "a constant defines exactly one value");
			ok = false;
		} else {
			ok = ir_parse_const(P, &res[0]);
		}
	} else if (ok) {
		ok = parse_node(P, res, nres);
	}
	for (int i = 0; i < nres; i++)
		free(res[i].str);
	return ok;
}

/* (%x: type, ...) appended to the graph's inputs. */
static bool
parse_param_list(parser *P)
{
	int k = 0;
	if (!ir_lex_expect_punct(P, '('))
		return false;
	while (!P->failed && !ir_lex_is_punct(P, ')')) {
		if (k++ && !ir_lex_expect_punct(P, ','))
			return false;
		if (P->tok.kind != T_VALUE) {
			ir_lex_expected(P, "an input like %x: f32[1,4]");
			return false;
		}
		token name = P->tok;
		name.str = nn_xstrdup(P->tok.str);
		ir_dtype t;
		ir_shape s;
		bool ok = ir_sym_fresh(P, &name);
		if (ok) {
			ir_lex_next(P);
			ok = ir_lex_expect_punct(P, ':') &&
			     ir_parse_type(P, &t, &s);
		}
		if (ok)
			ir_sym_put(P, &name,
			           ir_add_input(P->g,
			                        name.numbered ? NULL : name.str,
			                        t, &s));
		free(name.str);
		if (!ok)
			return false;
	}
	return ir_lex_expect_punct(P, ')');
}

/* The inputs, and a subgraph's captured ones: (...) captures(...). */
static bool
parse_params(parser *P)
{
	if (!parse_param_list(P))
		return false;
	if (!ir_lex_is_ident(P, "captures"))
		return true;
	token at = P->tok;
	if (!P->g->parent) {
		ir_lex_err(P, &at, "only a graph attribute captures values");
		return false;
	}
	int own = P->g->ninputs;
	ir_lex_next(P);
	if (!parse_param_list(P))
		return false;
	P->g->ncaptured = P->g->ninputs - own;
	return true;
}

/* -> (type, ...) or -> type; the types are checked against `return`. */
static bool
parse_result_types(parser *P, ir_dtype *t, ir_shape *s, int *n, int max)
{
	if (!ir_lex_is_punct(P, '('))
		return (*n = 1), ir_parse_type(P, &t[0], &s[0]);
	ir_lex_next(P);
	while (!P->failed && !ir_lex_is_punct(P, ')')) {
		if (*n && !ir_lex_expect_punct(P, ','))
			return false;
		if (*n == max) {
			ir_lex_err(P, &P->tok, "more than %d graph results",
			           max);
			return false;
		}
		if (!ir_parse_type(P, &t[*n], &s[*n]))
			return false;
		(*n)++;
	}
	return ir_lex_expect_punct(P, ')');
}

static bool
parse_return(parser *P, const ir_dtype *t, const ir_shape *s, int n)
{
	token ret = P->tok;
	if (!ir_lex_expect_ident(P, "return"))
		return false;
	while (!P->failed && !ir_lex_is_punct(P, '}')) {
		if (P->g->noutputs && !ir_lex_expect_punct(P, ','))
			return false;
		token at = P->tok;
		ir_value *v;
		if (!parse_use(P, &v))
			return false;
		int i = P->g->noutputs;
		ir_add_output(P->g, v);
		if (i < n &&
		    (v->dtype != t[i] || !ir_shape_eq(&v->shape, &s[i]))) {
			char have[160], want[160];
			ir_shape_str(&v->shape, have, sizeof have);
			ir_shape_str(&s[i], want, sizeof want);
			ir_lex_err(P, &at,
			           "type mismatch: result %d is %s%s but the "
			           "graph declares %s%s",
			           i, ir_dtype_name(v->dtype), have,
			           ir_dtype_name(t[i]), want);
			return false;
		}
	}
	if (!P->failed && P->g->noutputs != n) {
		ir_lex_err(P, &ret,
		           "the graph declares %d results but returns %d", n,
		           P->g->noutputs);
		return false;
	}
	return ir_lex_expect_punct(P, '}');
}

#define MAX_GRAPH_RESULTS 256

static bool
parse_graph(parser *P)
{
	ir_dtype t[MAX_GRAPH_RESULTS];
	ir_shape s[MAX_GRAPH_RESULTS];
	int nres = 0;
	if (!ir_lex_expect_ident(P, "graph"))
		return false;
	if (P->tok.kind != T_GLOBAL) {
		ir_lex_expected(P, "a graph name like @main");
		return false;
	}
	P->g->name = ir_intern(P->g, P->tok.str);
	ir_lex_next(P);
	if (!parse_params(P))
		return false;
	if (P->tok.kind != T_ARROW) {
		ir_lex_expected(P, "'->'");
		return false;
	}
	ir_lex_next(P);
	if (!parse_result_types(P, t, s, &nres, MAX_GRAPH_RESULTS))
		return false;
	if (ir_lex_is_ident(P, "opset")) {
		ir_lex_next(P);
		if (!ir_lex_expect_punct(P, '(') ||
		    !ir_parse_int(P, &P->g->opset) ||
		    !ir_lex_expect_punct(P, ')'))
			return false;
	}
	if (!ir_lex_expect_punct(P, '{'))
		return false;
	while (!P->failed && !ir_lex_is_ident(P, "return")) {
		if (P->tok.kind == T_EOF) {
			ir_lex_expected(P, "'return'");
			return false;
		}
		if (!parse_stmt(P))
			return false;
	}
	return parse_return(P, t, s, nres);
}

/* A graph attribute: a graph of its own names, in P->g's arenas. */
static bool
parse_graph_attr(parser *P, ir_attr *a)
{
	parser saved = *P;
	a->kind = IR_ATTR_GRAPH;
	a->g = ir_subgraph_new(P->g, NULL);
	P->g = a->g;
	P->cap = 64;
	P->nsyms = 0;
	P->syms = nn_xcalloc(P->cap, sizeof *P->syms);
	bool ok = parse_graph(P);
	for (size_t i = 0; i < P->cap; i++)
		free(P->syms[i].key);
	free(P->syms);
	P->g = saved.g;
	P->syms = saved.syms;
	P->nsyms = saved.nsyms;
	P->cap = saved.cap;
	return ok;
}

ir_graph *
ir_parse(const char *text, size_t len, nn_diag *d)
{
	parser P = {.p = text,
	            .end = text + len,
	            .line_start = text,
	            .line = 1,
	            .d = d,
	            .cap = 64};
	P.syms = nn_xcalloc(P.cap, sizeof *P.syms);
	P.g = ir_graph_new("main");
	ir_lex_next(&P);
	bool ok = parse_graph(&P) && !P.failed;
	if (ok && P.tok.kind != T_EOF) {
		ir_lex_expected(&P, "end of file");
		ok = false;
	}
	if (!ok && !P.failed)
		ir_lex_err(&P, &P.tok,
		           "syntax error"); /* every path reports; a net */
	for (size_t i = 0; i < P.cap; i++)
		free(P.syms[i].key);
	free(P.syms);
	free(P.tok.str);
	if (!ok) {
		ir_graph_free(P.g);
		return NULL;
	}
	return P.g;
}

ir_graph *
ir_parse_file(const char *path, nn_diag *d)
{
	const char *why;
	size_t n;
	char *buf = nn_in_read(path, &n, &why);
	if (!buf) {
		nn_error(d, "cannot open '%s': %s", path, why);
		return NULL;
	}
	const char *file = d->file;
	if (!file)
		d->file = path;
	ir_graph *g = ir_parse(buf, n, d);
	d->file = file;
	free(buf);
	return g;
}
