/* Loading an object that cg_compile wrote into this process (ORC LLJIT),
 * so that tests and fuzzers run the exact bytes a user would link,
 * without a linker or a subprocess. Host objects only. */
#include <stdlib.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>

#include "codegen.h"

struct cg_jit {
	LLVMOrcLLJITRef j;
};

static bool
failed(LLVMErrorRef e, const char *what, nn_diag *d)
{
	char *m;

	if (!e)
		return false;
	m = LLVMGetErrorMessage(e);
	nn_error_tool(d, "cannot load the object in process: %s: %s", what,
		      m);
	LLVMDisposeErrorMessage(m);
	return true;
}

cg_jit *
cg_jit_load(const void *obj, size_t len, nn_diag *d)
{
	LLVMOrcDefinitionGeneratorRef gen;
	LLVMMemoryBufferRef mb;
	cg_jit *j = nn_xcalloc(1, sizeof *j);

	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	if (failed(LLVMOrcCreateLLJIT(&j->j, LLVMOrcCreateLLJITBuilder()),
		   "LLJIT", d)) {
		free(j);
		return NULL;
	}
	/* libm and memcpy/memset, which the object calls, from the process */
	if (failed(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen,
		   LLVMOrcLLJITGetGlobalPrefix(j->j), NULL, NULL),
		   "process symbols", d)) {
		cg_jit_free(j);
		return NULL;
	}
	LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->j), gen);
	mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, len, "object");
	if (failed(LLVMOrcLLJITAddObjectFile(j->j,
		   LLVMOrcLLJITGetMainJITDylib(j->j), mb), "object", d)) {
		cg_jit_free(j);
		return NULL;
	}
	return j;
}

uintptr_t
cg_jit_symbol(cg_jit *j, const char *name, nn_diag *d)
{
	LLVMOrcExecutorAddress a = 0;

	if (failed(LLVMOrcLLJITLookup(j->j, &a, name), name, d))
		return 0;
	return (uintptr_t)a;
}

void
cg_jit_free(cg_jit *j)
{
	if (!j)
		return;
	LLVMConsumeError(LLVMOrcDisposeLLJIT(j->j));
	free(j);
}
