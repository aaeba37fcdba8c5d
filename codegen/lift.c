/* Constants as parameters: a node function that reads private constant
 * globals (packed weights, tables) is rebuilt to take them as trailing
 * parameters, so that the functions of identical layers are identical
 * and mergefunc keeps one. Where a function is called once, LLVM's
 * IPSCCP puts the global back, so ordinary models are unchanged. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* Above this many distinct constants a function is left as it is: such
 * kernels (unrolled sparse tables) are not alike anyway. */
#define MAX_LIFTED 16

static bool
liftable(LLVMValueRef v)
{
	return v && LLVMIsAGlobalVariable(v) && LLVMIsGlobalConstant(v) &&
	       LLVMGetLinkage(v) == LLVMPrivateLinkage;
}

/* The global an operand reads: itself or the operand of a bitcast. */
static LLVMValueRef
operand_global(LLVMValueRef op)
{
	if (liftable(op))
		return op;
	if (LLVMIsAConstantExpr(op) && LLVMGetConstOpcode(op) == LLVMBitCast &&
	    liftable(LLVMGetOperand(op, 0)))
		return LLVMGetOperand(op, 0);
	return NULL;
}

/* The distinct liftable globals fn's instructions read, into gs (phis
 * excluded: nothing can be inserted before them); max + 1 if more. */
static int
collect(LLVMValueRef fn, LLVMValueRef *gs, int max)
{
	int n = 0;

	for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;
	     bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i;
		     i = LLVMGetNextInstruction(i)) {
			if (LLVMIsAPHINode(i))
				continue;
			for (int k = 0; k < LLVMGetNumOperands(i); k++) {
				LLVMValueRef g = operand_global(
					LLVMGetOperand(i, (unsigned)k));
				int j = 0;
				if (!g)
					continue;
				while (j < n && gs[j] != g)
					j++;
				if (j < n)
					continue;
				if (n == max)
					return max + 1;
				gs[n++] = g;
			}
		}
	return n;
}

static void
copy_attrs(LLVMValueRef from, LLVMValueRef to, unsigned idx)
{
	unsigned n = LLVMGetAttributeCountAtIndex(from, idx);
	LLVMAttributeRef *a = nn_xcalloc((size_t)n + 1, sizeof *a);

	LLVMGetAttributesAtIndex(from, idx, a);
	for (unsigned k = 0; k < n; k++)
		LLVMAddAttributeAtIndex(to, idx, a[k]);
	free(a);
}

/* A function like fn with ng extra parameters of the globals' types,
 * fn's attributes, linkage and name; fn's blocks are moved into it. */
static LLVMValueRef
rebuild(cg_ctx *c, LLVMValueRef fn, LLVMValueRef *gs, int ng)
{
	unsigned np = LLVMCountParams(fn);
	LLVMTypeRef *pt = nn_xcalloc((size_t)np + (size_t)ng + 1, sizeof *pt);
	size_t len;
	char *name = nn_xstrdup(LLVMGetValueName2(fn, &len));
	LLVMValueRef nf;
	LLVMBasicBlockRef anchor;

	for (unsigned k = 0; k < np; k++)
		pt[k] = LLVMTypeOf(LLVMGetParam(fn, k));
	for (int k = 0; k < ng; k++)
		pt[np + (unsigned)k] = LLVMTypeOf(gs[k]);
	LLVMSetValueName2(fn, "", 0);
	/* the node's status return (status.c) stays */
	nf = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		LLVMGetReturnType(LLVMGetElementType(LLVMTypeOf(fn))), pt,
		np + (unsigned)ng, 0));
	free(pt);
	free(name);
	LLVMSetLinkage(nf, LLVMGetLinkage(fn));
	copy_attrs(fn, nf, LLVMAttributeFunctionIndex);
	for (unsigned k = 0; k < np; k++) {
		copy_attrs(fn, nf, k + 1);
		LLVMReplaceAllUsesWith(LLVMGetParam(fn, k), LLVMGetParam(nf, k));
	}
	anchor = LLVMAppendBasicBlockInContext(c->ctx, nf, "");
	for (LLVMBasicBlockRef bb; (bb = LLVMGetLastBasicBlock(fn));)
		LLVMMoveBasicBlockAfter(bb, anchor);
	LLVMDeleteBasicBlock(anchor);
	return nf;
}

/* Operands reading gs[k] read parameter np + k instead. */
static void
redirect(cg_ctx *c, LLVMValueRef nf, unsigned np, LLVMValueRef *gs)
{
	LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(nf);
	LLVMValueRef top = LLVMGetFirstInstruction(entry);
	LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);

	for (LLVMBasicBlockRef bb = entry; bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i;
		     i = LLVMGetNextInstruction(i)) {
			if (LLVMIsAPHINode(i))
				continue;
			for (int k = 0; k < LLVMGetNumOperands(i); k++) {
				LLVMValueRef op = LLVMGetOperand(i, (unsigned)k);
				LLVMValueRef g = operand_global(op), p;
				int j = 0;
				if (!g)
					continue;
				while (gs[j] != g)
					j++;
				p = LLVMGetParam(nf, np + (unsigned)j);
				if (op != g) {
					LLVMPositionBuilderBefore(b, top);
					p = LLVMBuildBitCast(b, p, LLVMTypeOf(op),
							     "");
				}
				LLVMSetOperand(i, (unsigned)k, p);
			}
		}
	LLVMDisposeBuilder(b);
}

LLVMValueRef
cg_lift_consts(cg_ctx *c, LLVMValueRef fn, LLVMValueRef **consts)
{
	LLVMValueRef gs[MAX_LIFTED + 1], nf;
	int ng = collect(fn, gs, MAX_LIFTED);
	unsigned np = LLVMCountParams(fn);

	*consts = NULL;
	if (ng == 0 || ng > MAX_LIFTED)
		return fn;
	nf = rebuild(c, fn, gs, ng);
	redirect(c, nf, np, gs);
	LLVMDeleteFunction(fn);
	*consts = nn_xcalloc((size_t)ng + 1, sizeof **consts);
	memcpy(*consts, gs, (size_t)ng * sizeof *gs);
	return nf;
}
