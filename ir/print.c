/* The IR printer: deterministic text that parse.c reads back to a graph
 * printing identically (format in docs/ir.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Constants up to this many elements print inline even without weights. */
#define INLINE_MAX 16

bool
ir_is_plain_name(const char *s)
{
	if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

void
ir_print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void
ir_read_float_elem(const char *text, void *data, ir_dtype t, int64_t i)
{
	switch (t) {
	case IR_F64: ((double *)data)[i] = strtod(text, NULL); break;
	case IR_F32: ((float *)data)[i] = strtof(text, NULL); break;
	case IR_F16:
		((uint16_t *)data)[i] = ir_f32_to_f16(strtof(text, NULL));
		break;
	case IR_BF16:
		((uint16_t *)data)[i] = ir_f32_to_bf16(strtof(text, NULL));
		break;
	default: nn_unreachable();
	}
}

static void
fmt_float(char *buf, const void *data, ir_dtype t, int64_t i)
{
	double v = ir_load_f64(data, t, i);
	size_t esz = ir_dtype_size(t);
	if (isnan(v) || isinf(v)) {
		strcpy(buf, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		return;
	}
	unsigned char back[8];
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, IR_NUM_BUF, "%.*g", p, v);
		/* %g writes 60 at one digit as 6e+01: an integer below 1e17
		 * reads better, and as exactly, in full */
		double r = strtod(buf, NULL);
		if (strchr(buf, 'e') && fabs(r) >= 1 && fabs(r) < 1e17)
			snprintf(buf, IR_NUM_BUF, "%.0f", r);
		ir_read_float_elem(buf, back, t, 0);
		if (memcmp(back, (const char *)data + (size_t)i * esz, esz) == 0)
			return;
	}
}

void
ir_fmt_elem(char *buf, const void *data, ir_dtype t, int64_t i)
{
	if (ir_dtype_is_float(t))
		fmt_float(buf, data, t, i);
	else if (t == IR_BOOL)
		strcpy(buf, ((const uint8_t *)data)[i] ? "true" : "false");
	else if (t == IR_U64)
		snprintf(buf, IR_NUM_BUF, "%llu",
			 (unsigned long long)((const uint64_t *)data)[i]);
	else
		snprintf(buf, IR_NUM_BUF, "%lld",
			 (long long)ir_load_i64(data, t, i));
}

void
ir_fmt_attr_float(char *buf, double v)
{
	float f = (float)v;
	if ((double)f == v || isnan(v))
		fmt_float(buf, &f, IR_F32, 0);
	else /* 17 digits even when trailing ones are 0: see attr_float */
		snprintf(buf, IR_NUM_BUF, "%.16e", v);
	if (!strpbrk(buf, ".eni"))
		strcat(buf, ".0");
}

static void
print_name(FILE *f, const char *s)
{
	if (ir_is_plain_name(s))
		fputs(s, f);
	else
		ir_print_str(f, s);
}

static void
print_ref(FILE *f, const ir_graph *g, const ir_value *v)
{
	fputc('%', f);
	if (v->id >= g->nnumbered && v->name)
		print_name(f, v->name);
	else
		fprintf(f, "%d", v->id);
}

static void
print_type(FILE *f, ir_dtype t, const ir_shape *s)
{
	fprintf(f, "%s[", ir_dtype_name(t));
	for (int i = 0; i < s->rank; i++) {
		if (i)
			fputc(',', f);
		if (s->dim[i] < 0)
			fputc('?', f);
		else
			fprintf(f, "%lld", (long long)s->dim[i]);
	}
	fputc(']', f);
}

/* splat(V) when every element has the same bits, else the full list if
 * `full` or small; false (nothing printed) if it must be elided. */
static bool
print_data(FILE *f, ir_dtype t, const ir_shape *s, const void *data,
	   bool full)
{
	int64_t n = ir_shape_numel(s);
	size_t esz = ir_dtype_size(t);
	char buf[IR_NUM_BUF];
	bool same = n > 1;
	for (int64_t i = 1; i < n && same; i++)
		same = memcmp((const char *)data + (size_t)i * esz, data, esz) == 0;
	if (same) {
		ir_fmt_elem(buf, data, t, 0);
		fprintf(f, "splat(%s)", buf);
		return true;
	}
	if (!full && n > INLINE_MAX)
		return false;
	fputc('[', f);
	for (int64_t i = 0; i < n; i++) {
		ir_fmt_elem(buf, data, t, i);
		fprintf(f, "%s%s", i ? ", " : "", buf);
	}
	fputc(']', f);
	return true;
}

/* The shared-weight codebook: its centroids when the data printed in full
 * (the codes are then implied: each element names its centroid), else
 * only their count. */
static void
print_codebook(FILE *f, const ir_value *v, bool full)
{
	char buf[IR_NUM_BUF];
	if (!full || !v->codebook) {
		fprintf(f, " codebook(k=%d)", v->ncodes);
		return;
	}
	fputs(" codebook([", f);
	for (int i = 0; i < v->ncodes; i++) {
		ir_fmt_elem(buf, v->codebook, IR_F32, i);
		fprintf(f, "%s%s", i ? ", " : "", buf);
	}
	fputs("])", f);
}

static void
indent(FILE *f, int depth)
{
	fprintf(f, "%*s", 2 * depth, "");
}

static void print_graph(FILE *f, ir_graph *g, bool weights, int depth);

static void
print_const(FILE *f, const ir_graph *g, const ir_value *v, bool weights,
	    int depth)
{
	indent(f, depth);
	print_ref(f, g, v);
	fputs(" = const ", f);
	print_type(f, v->dtype, &v->shape);
	fputc(' ', f);
	bool full = v->data &&
		    print_data(f, v->dtype, &v->shape, v->data, weights);
	if (!full)
		fprintf(f, "elided(nnz=%lld, hash=0x%016llx)",
			(long long)v->nnz, (unsigned long long)v->hash);
	if (v->ncodes)
		print_codebook(f, v, full);
	fputc('\n', f);
}

static void
print_attr_value(FILE *f, const ir_attr *a, bool weights, int depth)
{
	char buf[IR_NUM_BUF];
	switch (a->kind) {
	case IR_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
	case IR_ATTR_FLOAT:
		ir_fmt_attr_float(buf, a->f);
		fputs(buf, f);
		break;
	case IR_ATTR_STRING: ir_print_str(f, a->s ? a->s : ""); break;
	case IR_ATTR_INTS:
	case IR_ATTR_FLOATS:
	case IR_ATTR_STRINGS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++) {
			fputs(i ? ", " : "", f);
			if (a->kind == IR_ATTR_INTS) {
				fprintf(f, "%lld", (long long)a->ints[i]);
			} else if (a->kind == IR_ATTR_FLOATS) {
				ir_fmt_attr_float(buf, a->floats[i]);
				fputs(buf, f);
			} else {
				ir_print_str(f, a->strings[i]);
			}
		}
		fputc(']', f);
		break;
	case IR_ATTR_TENSOR:
		fputs("tensor<", f);
		print_type(f, a->t->dtype, &a->t->shape);
		fputs(": ", f);
		print_data(f, a->t->dtype, &a->t->shape, a->t->data, true);
		fputc('>', f);
		break;
	case IR_ATTR_GRAPH: print_graph(f, a->g, weights, depth); break;
	default: nn_unreachable();
	}
}

static void
print_node(FILE *f, const ir_graph *g, const ir_node *n, bool weights,
	   int depth)
{
	indent(f, depth);
	for (int i = 0; i < n->nout; i++) {
		fputs(i ? ", " : "", f);
		if (n->out[i])
			print_ref(f, g, n->out[i]);
		else
			fputc('_', f);
	}
	fprintf(f, " = %s(", ir_ops[n->op].name);
	for (int i = 0; i < n->nin; i++) {
		fputs(i ? ", " : "", f);
		if (n->in[i])
			print_ref(f, g, n->in[i]);
		else
			fputs("none", f);
	}
	fputc(')', f);
	for (int i = 0; i < n->nattrs; i++) {
		fputs(i ? ", " : " {", f);
		print_name(f, n->attrs[i].name);
		fputc('=', f);
		print_attr_value(f, &n->attrs[i], weights, depth + 1);
	}
	fputs(n->nattrs ? "} :" : " :", f);
	for (int i = 0, k = 0; i < n->nout; i++)
		if (n->out[i]) {
			fputs(k++ ? ", " : " ", f);
			print_type(f, n->out[i]->dtype, &n->out[i]->shape);
		}
	if (n->name) {
		fputs(" loc(", f);
		ir_print_str(f, n->name);
		fputc(')', f);
	}
	fputc('\n', f);
}

static void
print_params(FILE *f, const ir_graph *g, int from, int to)
{
	fputc('(', f);
	for (int i = from; i < to; i++) {
		fputs(i > from ? ", " : "", f);
		print_ref(f, g, g->inputs[i]);
		fputs(": ", f);
		print_type(f, g->inputs[i]->dtype, &g->inputs[i]->shape);
	}
	fputc(')', f);
}

/* graph @name(inputs) [captures(inputs)] -> (types) [opset(N)] { */
static void
print_header(FILE *f, const ir_graph *g)
{
	int own = g->ninputs - g->ncaptured;
	fputs("graph @", f);
	print_name(f, g->name);
	print_params(f, g, 0, own);
	if (g->ncaptured) {
		fputs(" captures", f);
		print_params(f, g, own, g->ninputs);
	}
	fputs(" -> (", f);
	for (int i = 0; i < g->noutputs; i++) {
		fputs(i ? ", " : "", f);
		print_type(f, g->outputs[i]->dtype, &g->outputs[i]->shape);
	}
	fputc(')', f);
	if (g->opset && !g->parent)
		fprintf(f, " opset(%lld)", (long long)g->opset);
	fputs(" {\n", f);
}

/* The graph; a subgraph (depth > 0) ends without a newline, inside its
 * node's attribute list. */
static void
print_graph(FILE *f, ir_graph *g, bool weights, int depth)
{
	ir_number_values(g);
	print_header(f, g);
	for (int i = 0; i < g->nconsts; i++)
		print_const(f, g, g->consts[i], weights, depth + 1);
	for (const ir_node *n = g->first; n; n = n->next)
		print_node(f, g, n, weights, depth + 1);
	indent(f, depth + 1);
	fputs("return", f);
	for (int i = 0; i < g->noutputs; i++) {
		fputs(i ? ", " : " ", f);
		print_ref(f, g, g->outputs[i]);
	}
	fputc('\n', f);
	indent(f, depth);
	fputc('}', f);
}

void
ir_print(FILE *f, ir_graph *g, const ir_print_opts *o)
{
	print_graph(f, g, o && o->weights, 0);
	fputc('\n', f);
}
