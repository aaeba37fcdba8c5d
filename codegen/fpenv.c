/* The object's floating-point state (README "Floating-point contract"):
 * on x86 NAME_run_with_workspace saves the caller's MXCSR, runs with round
 * to nearest and no flush-to-zero / denormals-are-zero, as the interpreter
 * computes, and restores the caller's MXCSR before it returns. The
 * exception masks and flags are the caller's. Other targets run in the
 * caller's state. */
#include "cg_internal.h"

#include <string.h>

/* MXCSR: FTZ (bit 15), rounding control (bits 13-14), DAZ (bit 6). */
#define MXCSR_MODE 0xe040u

static bool
is_x86(cg_ctx *c)
{
	const char *t = LLVMGetTarget(c->mod);

	return !strncmp(t, "x86_64", 6) || !strncmp(t, "i386", 4) ||
	       !strncmp(t, "i686", 4);
}

static void
csr_call(cg_ctx *c, const char *name, LLVMValueRef slot)
{
	LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx),
					  &c->ptr, 1, 0);
	LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);

	if (!fn)
		fn = LLVMAddFunction(c->mod, name, ft);
	LLVMBuildCall2(c->b, ft, fn, &slot, 1, "");
}

LLVMValueRef
cg_fpenv_enter(cg_ctx *c)
{
	LLVMValueRef saved, mode, v;

	if (!is_x86(c))
		return NULL;
	saved = LLVMBuildAlloca(c->b, c->i32, "mxcsr.caller");
	mode = LLVMBuildAlloca(c->b, c->i32, "mxcsr.run");
	csr_call(c, "llvm.x86.sse.stmxcsr", LLVMBuildBitCast(c->b, saved,
							     c->ptr, ""));
	v = LLVMBuildLoad2(c->b, c->i32, saved, "");
	v = LLVMBuildAnd(c->b, v, LLVMConstInt(c->i32, ~MXCSR_MODE & 0xffffu,
					       0), "");
	LLVMBuildStore(c->b, v, mode);
	csr_call(c, "llvm.x86.sse.ldmxcsr", LLVMBuildBitCast(c->b, mode,
							     c->ptr, ""));
	return saved;
}

void
cg_fpenv_leave(cg_ctx *c, LLVMValueRef saved)
{
	if (saved)
		csr_call(c, "llvm.x86.sse.ldmxcsr", LLVMBuildBitCast(c->b,
							saved, c->ptr, ""));
}
