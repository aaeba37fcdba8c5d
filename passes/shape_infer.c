/* The `shape-infer` pass: recomputes every node output's type, shape and
 * statically known data from the inputs and constants. Needs nothing;
 * does not touch use lists. */
#include "passes.h"

bool
pass_shape_infer(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	/* Inference only restates what a verified graph already says, so
	 * it is not reported as a change. */
	*changed = false;
	if (!pass_opts_allow(o, "shape-infer", NULL, d))
		return false;
	return ir_infer_shapes(g, d);
}
