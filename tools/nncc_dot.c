/* nncc --emit-dot: the graph code generation receives as Graphviz DOT,
 * one box per node, the weight layers labelled with each weight's shape,
 * sparsity and the kernel cg_sparse_choose gives it (the kernel the
 * object has), edges labelled with the value's type. */
#include <stdio.h>
#include <string.h>

#include "nncc.h"

/* s as the inside of a DOT string (quotes and backslashes escaped). */
static void
put_str(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

static void
put_type(FILE *f, const ir_value *v)
{
	char buf[160];
	ir_shape_str(&v->shape, buf, sizeof buf);
	fprintf(f, "%s%s", ir_dtype_name(v->dtype), buf);
}

/* The DOT id of v's producer: a node, or a graph input (constants are
 * folded into their readers' labels). */
static void
put_source(FILE *f, const ir_graph *g, const ir_value *v)
{
	for (int i = 0; i < g->ninputs; i++)
		if (g->inputs[i] == v) {
			fprintf(f, "in%d", i);
			return;
		}
	fprintf(f, "n%d", v->def->id);
}

static void
put_node(FILE *f, const ir_node *n, const cg_options *o)
{
	unsigned slots = ir_weight_inputs(n->op);
	bool layer = false;
	fprintf(f, "  n%d [label=\"%s", n->id, ir_ops[n->op].name);
	if (n->name) {
		fputs("\\n", f);
		put_str(f, n->name);
	}
	for (int k = 0; k < n->nin; k++) {
		cg_kernel_choice ch;
		cg_kernel kind;
		const ir_value *w = n->in[k];
		if (!(slots >> k & 1) || !w ||
		    (kind = cg_sparse_choose(n, k, o, &ch)) == CG_KERNEL_NONE)
			continue;
		double sp = ch.params ? 1.0 - (double)ch.nnz / (double)ch.params
				      : 0;
		const char *wn = ir_weight_input_name(n->op, k);
		fprintf(f, "\\n%s ", wn ? wn : "W");
		put_type(f, w);
		fprintf(f, ", %.1f%% zero", 100 * sp);
		if (w->ncodes)
			fprintf(f, ", %d shared values", w->ncodes);
		fprintf(f, ", kernel %s", cg_kernel_name(kind));
		layer = true;
	}
	fprintf(f, "\"%s];\n", layer
		? ", style=filled, fillcolor=\"#dde8f8\"" : "");
}

bool
nncc_write_dot(const char *path, ir_graph *g, const cg_options *o,
	       nn_diag *d)
{
	nn_outfile of;
	FILE *f = nn_out_open(&of, path, d);
	if (!f)
		return false;
	ir_number_values(g);
	fputs("digraph \"", f);
	put_str(f, g->name);
	fputs("\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", "
	      "fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
	      f);
	for (int i = 0; i < g->ninputs; i++) {
		fprintf(f, "  in%d [shape=ellipse, label=\"", i);
		put_str(f, ir_value_label(g->inputs[i]));
		fputs("\\n", f);
		put_type(f, g->inputs[i]);
		fputs("\"];\n", f);
	}
	for (const ir_node *n = g->first; n; n = n->next)
		put_node(f, n, o);
	for (int i = 0; i < g->noutputs; i++) {
		fprintf(f, "  out%d [shape=ellipse, label=\"", i);
		put_str(f, ir_value_label(g->outputs[i]));
		fputs("\\n", f);
		put_type(f, g->outputs[i]);
		fputs("\"];\n", f);
	}
	for (const ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++) {
			const ir_value *v = n->in[i];
			if (!v || ir_is_const(v))
				continue;
			fputs("  ", f);
			put_source(f, g, v);
			fprintf(f, " -> n%d [label=\"", n->id);
			put_type(f, v);
			fputs("\"];\n", f);
		}
	for (int i = 0; i < g->noutputs; i++) {
		const ir_value *v = g->outputs[i];
		if (ir_is_const(v))
			continue;
		fputs("  ", f);
		put_source(f, g, v);
		fprintf(f, " -> out%d;\n", i);
	}
	fputs("}\n", f);
	return nn_out_close(&of, true, d);
}
