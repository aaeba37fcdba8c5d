/* Emission: target machine setup, LLVM's optimization pipeline for the
 * -O level, and writing object, assembly, bitcode or LLVM IR (emitted
 * into memory, written through nn_out_open). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Object.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cg_internal.h"

static LLVMTargetMachineRef tm_cache;

static void
init_targets(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	LLVMInitializeAllTargetInfos();
	LLVMInitializeAllTargets();
	LLVMInitializeAllTargetMCs();
	LLVMInitializeAllAsmPrinters();
	LLVMInitializeAllAsmParsers();
}

static LLVMCodeGenOptLevel
cg_level(int o)
{
	return o <= 0 ? LLVMCodeGenLevelNone
	     : o == 1 ? LLVMCodeGenLevelLess
	     : o == 2 ? LLVMCodeGenLevelDefault : LLVMCodeGenLevelAggressive;
}

static bool
has(const char *list, const char *const *names)
{
	for (; *names; names++)
		if (strstr(list, *names))
			return true;
	return false;
}

/* The kernels' vector width: from the host's features, else from the
 * -mcpu name (LLVM's C API does not expose a CPU's feature list). */
static void
vector_shape(cg_ctx *c, const char *triple, const char *cpu,
	     const char *feat)
{
	static const char *const v16[] = {"avx512", "skylake-avx512",
		"cascadelake", "cooperlake", "cannonlake", "icelake",
		"tigerlake", "rocketlake", "sapphirerapids", "znver4",
		"znver5", "x86-64-v4", "knl", "knm", NULL};
	static const char *const v8[] = {"haswell", "broadwell", "skylake",
		"znver", "alderlake", "raptorlake", "meteorlake", "bdver",
		"x86-64-v3", "sandybridge", "ivybridge", "btver2", NULL};
	bool x86 = !strncmp(triple, "x86_64", 6) || !strncmp(triple, "i386", 4)
		   || !strncmp(triple, "i686", 4);

	c->vl = 4;
	c->nregs = x86 ? 16 : 32;
	if (!x86)
		return;
	if (*feat ? strstr(feat, "+avx512f") != NULL : has(cpu, v16)) {
		c->vl = 16;
		c->nregs = 32;
	} else if (*feat ? strstr(feat, "+avx") != NULL : has(cpu, v8)) {
		c->vl = 8;
	}
}

/* LLVM reports a CPU it does not know only as a warning on stderr, when
 * the target machine creates its subtarget, and later aborts on it
 * ("64-bit code requested on a subtarget that doesn't support it"). So
 * the target machine is created with stderr captured: that warning
 * becomes an error, anything else LLVM printed passes through. */
#define UNKNOWN_CPU "is not a recognized processor"

static LLVMTargetMachineRef
create_tm(LLVMTargetRef t, const char *triple, const char *cpu,
	  const char *feat, int opt, bool *bad_cpu)
{
	FILE *cap = tmpfile();
	int saved = cap ? dup(2) : -1;
	LLVMTargetMachineRef tm;
	char buf[4096];
	size_t n;

	if (saved >= 0)
		dup2(fileno(cap), 2);
	tm = LLVMCreateTargetMachine(t, triple, cpu, feat, cg_level(opt),
				     LLVMRelocPIC, LLVMCodeModelDefault);
	*bad_cpu = false;
	if (saved < 0) {
		if (cap)
			fclose(cap);
		return tm;
	}
	dup2(saved, 2);
	close(saved);
	rewind(cap);
	n = fread(buf, 1, sizeof buf - 1, cap);
	buf[n] = '\0';
	fclose(cap);
	*bad_cpu = strstr(buf, UNKNOWN_CPU) != NULL;
	if (!*bad_cpu)
		fputs(buf, stderr);
	return tm;
}

/* RISC-V knows "generic" as a name but its subtarget refuses it with an
 * abort ("Use generic-rv64"); the C API has no other way to ask. */
static bool
cpu_refused(const char *triple, const char *cpu)
{
	return !strncmp(triple, "riscv", 5) && !strcmp(cpu, "generic");
}

bool
cg_setup_target(cg_ctx *c, const cg_options *o)
{
	char *triple, *err = NULL, *cpu, *feat;
	LLVMTargetRef t;
	LLVMTargetDataRef td;
	bool host = !o->triple && !o->cpu, bad_cpu;

	init_targets();
	triple = o->triple ? LLVMNormalizeTargetTriple(o->triple)
			   : LLVMGetDefaultTargetTriple();
	if (LLVMGetTargetFromTriple(triple, &t, &err)) {
		nn_error(c->d, "unknown target '%s': %s", o->triple ? o->triple
			 : triple, err);
		LLVMDisposeMessage(err);
		LLVMDisposeMessage(triple);
		return false;
	}
	/* no -mcpu with --target: "", the target's own default CPU */
	cpu = host ? LLVMGetHostCPUName()
		   : LLVMCreateMessage(o->cpu ? o->cpu : "");
	if (o->cpu && !strcmp(o->cpu, "native") && !o->triple) {
		LLVMDisposeMessage(cpu);
		cpu = LLVMGetHostCPUName();
		host = true;
	}
	feat = host ? LLVMGetHostCPUFeatures() : LLVMCreateMessage("");
	tm_cache = cpu_refused(triple, cpu) ? NULL
		   : create_tm(t, triple, cpu, feat, o->opt_level, &bad_cpu);
	if (!tm_cache || bad_cpu) {
		nn_error_tool(c->d, "unknown target CPU '%s'", cpu);
		if (tm_cache)
			LLVMDisposeTargetMachine(tm_cache);
		tm_cache = NULL;
	} else {
		vector_shape(c, triple, cpu, feat);
		LLVMSetTarget(c->mod, triple);
		td = LLVMCreateTargetDataLayout(tm_cache);
		LLVMSetModuleDataLayout(c->mod, td);
		LLVMDisposeTargetData(td);
	}
	LLVMDisposeMessage(triple);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(feat);
	return tm_cache != NULL;
}

/* Function attributes make LLVM's cost models see the chosen CPU. */
static void
tag_functions(cg_ctx *c, const cg_options *o)
{
	char *cpu = LLVMGetTargetMachineCPU(tm_cache);
	char *feat = LLVMGetTargetMachineFeatureString(tm_cache);

	for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f;
	     f = LLVMGetNextFunction(f)) {
		if (LLVMIsDeclaration(f))
			continue;
		if (*cpu)
			LLVMAddTargetDependentFunctionAttr(f, "target-cpu", cpu);
		if (*feat)
			LLVMAddTargetDependentFunctionAttr(f, "target-features",
							   feat);
		if (o->size_level)
			LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
				LLVMCreateEnumAttribute(c->ctx,
				LLVMGetEnumAttributeKindForName("optsize", 7),
				0));
	}
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(feat);
}

/* Largest arena that NAME_run keeps on its stack under -Os. */
#define STACK_ARENA 1024

/* NAME_run's arena as a stack buffer: no data section, no relocation,
 * no symbol. The arena's uses are the bitcasts that build_entries made
 * (constant expressions), replaced operand by operand; GlobalDCE then
 * drops the global. */
static bool
arena_on_stack(cg_ctx *c, LLVMValueRef arena)
{
	LLVMTypeRef at = LLVMGlobalGetValueType(arena);
	char name[256];
	LLVMValueRef run, a;
	LLVMBasicBlockRef bb;
	LLVMBuilderRef b;

	snprintf(name, sizeof name, "%s_run", c->name);
	if (LLVMGetArrayLength(at) > STACK_ARENA ||
	    !(run = LLVMGetNamedFunction(c->mod, name)))
		return false;
	bb = LLVMGetEntryBasicBlock(run);
	b = LLVMCreateBuilderInContext(c->ctx);
	LLVMPositionBuilderBefore(b, LLVMGetFirstInstruction(bb));
	a = LLVMBuildAlloca(b, at, "arena");
	LLVMSetAlignment(a, 16);
	for (; bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i;
		     i = LLVMGetNextInstruction(i))
			for (int k = 0; k < LLVMGetNumOperands(i); k++) {
				LLVMValueRef op = LLVMGetOperand(i, (unsigned)k);
				if (op == arena || (LLVMIsAConstantExpr(op) &&
				    LLVMGetOperand(op, 0) == arena))
					LLVMSetOperand(i, (unsigned)k,
						LLVMBuildBitCast(b, a,
						LLVMTypeOf(op), ""));
			}
	LLVMDisposeBuilder(b);
	return true;
}

/* -Os: the object's fixed costs. Internal functions and data become
 * private (no symbols); a small arena goes on NAME_run's stack, a larger
 * one becomes a hidden common symbol (no .bss section); the run function
 * calls a private body that the exported name aliases (no PLT
 * relocation). */
static void
shrink_object(cg_ctx *c)
{
	char name[256];
	LLVMValueRef ws, a;

	for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f;
	     f = LLVMGetNextFunction(f))
		if (LLVMGetLinkage(f) == LLVMInternalLinkage)
			LLVMSetLinkage(f, LLVMPrivateLinkage);
	for (LLVMValueRef g = LLVMGetFirstGlobal(c->mod); g;
	     g = LLVMGetNextGlobal(g))
		if (LLVMGetLinkage(g) == LLVMInternalLinkage)
			LLVMSetLinkage(g, LLVMPrivateLinkage);
	snprintf(name, sizeof name, "%s_arena", c->name);
	if ((a = LLVMGetNamedGlobal(c->mod, name)) && !arena_on_stack(c, a)) {
		LLVMSetLinkage(a, LLVMCommonLinkage);
		LLVMSetVisibility(a, LLVMHiddenVisibility);
	}
	snprintf(name, sizeof name, "%s_run_with_workspace", c->name);
	if (!(ws = LLVMGetNamedFunction(c->mod, name)))
		return;
	LLVMSetValueName2(ws, "body", 4);
	LLVMSetLinkage(ws, LLVMPrivateLinkage);
	LLVMAddAttributeAtIndex(ws, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(c->ctx,
		LLVMGetEnumAttributeKindForName("noinline", 8), 0));
	a = LLVMAddAlias2(c->mod, LLVMGetElementType(LLVMTypeOf(ws)), 0, ws,
			  name);
	LLVMSetLinkage(a, LLVMExternalLinkage);
}


bool
cg_elf_target(cg_ctx *c)
{
	const char *t = LLVMGetTarget(c->mod);
	return !strstr(t, "apple") && !strstr(t, "darwin") &&
	       !strstr(t, "windows") && !strstr(t, "wasm");
}

void
cg_meta_section(cg_ctx *c, LLVMValueRef g)
{
	if (cg_elf_target(c) && !c->o->size_level)
		LLVMSetSection(g, CG_META_SECTION);
}

/* Where every function and global goes: the weights (constant data) in
 * --weights-section when given; on ELF targets, but for -Os (whose point
 * is the fewest bytes), one section per function, weight and the static
 * arena, so that the linker's --gc-sections drops what the program does
 * not call (NAME_run and its arena when only NAME_run_with_workspace is
 * used). */
static void
place_sections(cg_ctx *c, const cg_options *o)
{
	bool split = !o->size_level && cg_elf_target(c);
	char sec[300];
	size_t len;

	for (LLVMValueRef g = LLVMGetFirstGlobal(c->mod); g;
	     g = LLVMGetNextGlobal(g)) {
		const char *nm = LLVMGetValueName2(g, &len);
		if (LLVMIsDeclaration(g) || LLVMGetSection(g))
			continue;
		if (LLVMIsGlobalConstant(g) && o->weights_section) {
			LLVMSetSection(g, o->weights_section);
			continue;
		}
		if (!split)
			continue;
		snprintf(sec, sizeof sec, "%s.%.*s", LLVMIsGlobalConstant(g)
			 ? ".rodata" : LLVMIsNull(LLVMGetInitializer(g))
			 ? ".bss" : ".data", (int)len, nm);
		LLVMSetSection(g, sec);
	}
	for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); split && f;
	     f = LLVMGetNextFunction(f)) {
		const char *nm = LLVMGetValueName2(f, &len);
		if (LLVMIsDeclaration(f) || LLVMGetSection(f))
			continue;
		snprintf(sec, sizeof sec, ".text.%.*s", (int)len, nm);
		LLVMSetSection(f, sec);
	}
}

static bool
has_prefix(const char *s, const char *p)
{
	return s && !strncmp(s, p, strlen(p));
}

/* The object's code and weight bytes, from its sections. */
static void
measure_object(cg_ctx *c, const cg_options *o, LLVMMemoryBufferRef mb)
{
	char *err = NULL;
	LLVMBinaryRef bin = LLVMCreateBinary(mb, c->ctx, &err);
	LLVMSectionIteratorRef it;

	LLVMDisposeMessage(err);
	if (!bin)
		return;
	o->sizes->code = o->sizes->weights = 0;
	it = LLVMObjectFileCopySectionIterator(bin);
	for (; !LLVMObjectFileIsSectionIteratorAtEnd(bin, it);
	     LLVMMoveToNextSection(it)) {
		const char *nm = LLVMGetSectionName(it);
		int64_t n = (int64_t)LLVMGetSectionSize(it);
		if (has_prefix(nm, ".text") || has_prefix(nm, "__text"))
			o->sizes->code += n;
		else if (has_prefix(nm, CG_META_SECTION))
			continue;
		else if (has_prefix(nm, ".rodata") ||
			 has_prefix(nm, ".lrodata") ||
			 has_prefix(nm, "__const") ||
			 (o->weights_section && nm &&
			  !strcmp(nm, o->weights_section)))
			o->sizes->weights += n;
	}
	LLVMDisposeSectionIterator(it);
	LLVMDisposeBinary(bin);
}

/* mergefunc first, at every level: the layers of a long graph repeat,
 * and each node function merged away is one less through the pipeline
 * and instruction selection (per-function costs dominate those). */
static bool
optimize(cg_ctx *c, const cg_options *o)
{
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	char pipe[48];
	LLVMErrorRef e;

	if (o->opt_level <= 0)
		snprintf(pipe, sizeof pipe, "mergefunc");
	else
		snprintf(pipe, sizeof pipe, "mergefunc,default<%s>",
			 o->size_level ? "Os" : o->opt_level == 1 ? "O1"
			 : o->opt_level == 2 ? "O2" : "O3");
	LLVMPassBuilderOptionsSetLoopVectorization(po, o->opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, o->opt_level >= 2);
	LLVMPassBuilderOptionsSetLoopUnrolling(po, !o->size_level);
	LLVMPassBuilderOptionsSetLoopInterleaving(po, o->opt_level >= 2);
	e = LLVMRunPasses(c->mod, pipe, tm_cache, po);
	LLVMDisposePassBuilderOptions(po);
	if (e) {
		char *m = LLVMGetErrorMessage(e);
		nn_error(c->d, "LLVM optimization failed: %s", m);
		LLVMDisposeErrorMessage(m);
		return false;
	}
	return true;
}

/* LLVM emits into memory: the bytes go to *out (malloc'd), which the
 * caller writes through nn_out_open, so that every output follows the
 * same rules (stdout, devices, symlinks, atomic replacement, write
 * errors). */
static bool
write_module(cg_ctx *c, const cg_options *o, cg_bytes *out)
{
	LLVMMemoryBufferRef mb = NULL;
	char *err = NULL;

	if (o->output == CG_OUT_LL) {
		char *s = LLVMPrintModuleToString(c->mod);
		out->len = strlen(s);
		out->data = nn_xmalloc(out->len + 1);
		memcpy(out->data, s, out->len);
		LLVMDisposeMessage(s);
		return true;
	}
	if (o->output == CG_OUT_BC)
		mb = LLVMWriteBitcodeToMemoryBuffer(c->mod);
	else if (LLVMTargetMachineEmitToMemoryBuffer(tm_cache, c->mod,
		 o->output == CG_OUT_ASM ? LLVMAssemblyFile : LLVMObjectFile,
		 &err, &mb))
		mb = NULL;
	if (!mb) {
		nn_error(c->d, "cannot emit code: %s", err ? err : "");
		LLVMDisposeMessage(err);
		return false;
	}
	out->len = LLVMGetBufferSize(mb);
	out->data = nn_xmalloc(out->len + 1);
	memcpy(out->data, LLVMGetBufferStart(mb), out->len);
	if (o->sizes && o->output == CG_OUT_OBJ)
		measure_object(c, o, mb);
	LLVMDisposeMemoryBuffer(mb);
	return true;
}

void
cg_release_target(void)
{
	if (tm_cache)
		LLVMDisposeTargetMachine(tm_cache);
	tm_cache = NULL;
}

bool
cg_emit(cg_ctx *c, const cg_options *o, cg_bytes *out)
{
	char *err = NULL;
	bool ok;

	if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &err)) {
		nn_error(c->d, "internal error: invalid LLVM module: %s", err);
		LLVMDisposeMessage(err);
		LLVMDisposeModule(c->mod);
		return false;
	}
	LLVMDisposeMessage(err);
	tag_functions(c, o);
	if (o->size_level)
		shrink_object(c);
	nn_progress("optimize", "LLVM's passes at -O%s", o->size_level ? "s"
		    : o->opt_level == 0 ? "0" : o->opt_level == 1 ? "1"
		    : o->opt_level == 2 ? "2" : "3");
	ok = optimize(c, o);
	/* after the passes: mergefunc does not merge functions of different
	 * sections, and a long graph's node functions must merge */
	if (ok)
		place_sections(c, o);
	if (ok && o->phase)
		o->phase(o->phase_ctx, "optimize");
	if (ok)
		nn_progress("emit", "writing the %s", o->output == CG_OUT_OBJ
			    ? "object" : o->output == CG_OUT_ASM ? "assembly"
			    : "LLVM IR");
	ok = ok && write_module(c, o, out);
	LLVMDisposeModule(c->mod);
	LLVMDisposeTargetMachine(tm_cache);
	tm_cache = NULL;
	return ok;
}

/* The profiler's module (profile.c): verified, tagged and optimized as
 * cg_emit does, then left to the caller's in-process JIT. */
bool
cg_prepare(cg_ctx *c, const cg_options *o)
{
	char *err = NULL;
	bool ok = !LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &err);

	if (!ok)
		nn_error(c->d, "internal error: invalid LLVM module: %s", err);
	LLVMDisposeMessage(err);
	tag_functions(c, o);
	ok = ok && optimize(c, o);
	LLVMDisposeTargetMachine(tm_cache);
	tm_cache = NULL;
	return ok;
}
