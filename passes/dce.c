/* dce: removes nodes whose outputs nothing needs (no node input, no graph
 * output), optional outputs nobody reads, and constants nothing uses. */
#include "opt_util.h"

static bool
is_needed(const ir_graph *g, const ir_value *v)
{
	return v && (v->nuses > 0 || pass_is_output(g, v));
}

/* Optional trailing outputs of these ops are only extra work when unread
 * (Dropout's mask, MaxPool's indices, BatchNormalization's and
 * LayerNormalization's statistics); the others keep their slots. */
static bool
drops_optional_outputs(ir_op op)
{
	return op == OP_Dropout || op == OP_MaxPool ||
	       op == OP_BatchNormalization || op == OP_LayerNormalization;
}

/* One backward sweep: a node dies when no output is needed; since uses
 * are recomputed afterwards, a chain dies over several sweeps. */
static int
sweep(ir_graph *g)
{
	int removed = 0;
	ir_node *prev;
	for (ir_node *n = g->last; n; n = prev) {
		prev = n->prev;
		bool need = false;
		for (int i = 0; i < n->nout; i++)
			need |= is_needed(g, n->out[i]);
		if (need) {
			if (!drops_optional_outputs(n->op))
				continue;
			for (int i = ir_ops[n->op].min_out; i < n->nout; i++)
				if (n->out[i] && !is_needed(g, n->out[i])) {
					n->out[i] = NULL;
					removed++;
				}
			continue;
		}
		for (int i = 0; i < n->nin; i++)
			if (n->in[i])
				n->in[i]->nuses--; /* counts only; lists stale */
		ir_remove_node(g, n);
		removed++;
	}
	return removed;
}

/* Needs: nothing (computes uses itself). Leaves: uses valid; shapes are
 * unchanged. */
bool
pass_dce(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	if (!pass_opts_allow(o, "dce", NULL, d))
		return false;
	ir_compute_uses(g);
	int removed = sweep(g);
	ir_compute_uses(g);
	removed += pass_drop_unused_consts(g);
	*changed = removed > 0;
	return true;
}
