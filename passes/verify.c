/* The `verify` pass: runs the IR verifier at a chosen point of a pipeline.
 * Needs nothing; leaves every analysis as it was. */
#include "passes.h"

bool
pass_verify(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	*changed = false;
	if (!pass_opts_allow(o, "verify", NULL, d))
		return false;
	return ir_verify(g, d);
}
