/* The object's floating-point state (README "Floating-point contract"):
 * NAME_run_with_workspace is a wrapper that saves the caller's FP control
 * register, sets round to nearest without flush-to-zero or
 * denormals-are-zero (as the interpreter computes), calls the run's body
 * and restores the caller's register before it returns the body's status,
 * so every return path of the body restores it. Exception masks and flags
 * stay the caller's. x86 (MXCSR) and AArch64 (FPCR); other targets run in
 * the caller's state. */
#include "cg_internal.h"

#include <string.h>

/* MXCSR: FTZ (bit 15), rounding control (bits 13-14), DAZ (bit 6). */
#define MXCSR_MODE 0xe040u
/* FPCR: FZ (bit 24), RMode (bits 22-23), FZ16 (bit 19), AH and FIZ
 * (bits 1 and 0, FEAT_AFP; RES0 without it). */
#define FPCR_MODE 0x1c80003u

enum { FP_NONE, FP_X86, FP_AARCH64 };

static int
fp_arch(cg_ctx *c)
{
	const char *t = LLVMGetTarget(c->mod);

	if (!strncmp(t, "x86_64", 6) || !strncmp(t, "i386", 4) ||
	    !strncmp(t, "i686", 4))
		return FP_X86;
	if (!strncmp(t, "aarch64", 7) || !strncmp(t, "arm64", 5))
		return FP_AARCH64;
	return FP_NONE;
}

bool
cg_fpenv_wraps(cg_ctx *c)
{
	return fp_arch(c) != FP_NONE;
}

/* A call of the intrinsic name of type ret(arg), arg NULL for none. */
static LLVMValueRef
intrinsic(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMValueRef arg)
{
	LLVMTypeRef at = arg ? LLVMTypeOf(arg) : NULL;
	LLVMTypeRef ft = LLVMFunctionType(ret, &at, arg ? 1 : 0, 0);
	LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);

	if (!fn)
		fn = LLVMAddFunction(c->mod, name, ft);
	return LLVMBuildCall2(c->b, ft, fn, &arg, arg ? 1 : 0, "");
}

/* Saves the caller's state, sets the contract's; returns what restore
 * takes back (x86: the slot holding the caller's MXCSR; AArch64: the
 * caller's FPCR value). */
static LLVMValueRef
fp_enter(cg_ctx *c, int arch)
{
	LLVMTypeRef vt = LLVMVoidTypeInContext(c->ctx);
	LLVMValueRef saved, mode, v;

	if (arch == FP_AARCH64) {
		saved = intrinsic(c, "llvm.aarch64.get.fpcr", c->i64, NULL);
		intrinsic(c, "llvm.aarch64.set.fpcr", vt, LLVMBuildAnd(c->b,
			saved, LLVMConstInt(c->i64, ~(unsigned long long)
					    FPCR_MODE, 0), ""));
		return saved;
	}
	saved = LLVMBuildAlloca(c->b, c->i32, "mxcsr.caller");
	mode = LLVMBuildAlloca(c->b, c->i32, "mxcsr.run");
	intrinsic(c, "llvm.x86.sse.stmxcsr", vt, LLVMBuildBitCast(c->b, saved,
							     c->ptr, ""));
	v = LLVMBuildLoad2(c->b, c->i32, saved, "");
	LLVMBuildStore(c->b, LLVMBuildAnd(c->b, v, LLVMConstInt(c->i32,
		~MXCSR_MODE & 0xffffu, 0), ""), mode);
	intrinsic(c, "llvm.x86.sse.ldmxcsr", vt, LLVMBuildBitCast(c->b, mode,
							     c->ptr, ""));
	return saved;
}

static void
fp_leave(cg_ctx *c, int arch, LLVMValueRef saved)
{
	LLVMTypeRef vt = LLVMVoidTypeInContext(c->ctx);

	if (arch == FP_AARCH64)
		intrinsic(c, "llvm.aarch64.set.fpcr", vt, saved);
	else
		intrinsic(c, "llvm.x86.sse.ldmxcsr", vt, LLVMBuildBitCast(c->b,
			saved, c->ptr, ""));
}

void
cg_fpenv_wrap(cg_ctx *c, LLVMValueRef wrap, LLVMValueRef body)
{
	unsigned nw = LLVMCountParams(wrap), nb = LLVMCountParams(body);
	LLVMValueRef saved, st, args[8];

	NN_ASSERT(nb <= 8 && nw <= nb);
	LLVMPositionBuilderAtEnd(c->b, LLVMGetEntryBasicBlock(wrap));
	saved = cg_fpenv_enter(c);
	for (unsigned k = 0; k < nb; k++)
		args[k] = k < nw ? LLVMGetParam(wrap, k) : LLVMConstNull(c->ptr);
	st = LLVMBuildCall2(c->b, LLVMGetElementType(LLVMTypeOf(body)), body,
			    args, nb, "");
	cg_fpenv_leave(c, saved);
	LLVMBuildRet(c->b, st);
}

LLVMValueRef
cg_fpenv_enter(cg_ctx *c)
{
	int arch = fp_arch(c);

	return arch == FP_NONE ? NULL : fp_enter(c, arch);
}

void
cg_fpenv_leave(cg_ctx *c, LLVMValueRef saved)
{
	if (saved)
		fp_leave(c, fp_arch(c), saved);
}
