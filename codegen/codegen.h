/* Code generation: IR graph in, native object (or assembly, LLVM IR,
 * bitcode) and a C header out, through the LLVM C API. */
#ifndef NNCC_CODEGEN_H
#define NNCC_CODEGEN_H

#include "ir.h"

typedef enum cg_output {
	CG_OUT_OBJ,  /* native object file */
	CG_OUT_ASM,  /* -S */
	CG_OUT_BC,   /* --emit-llvm */
	CG_OUT_LL    /* --emit-llvm -S */
} cg_output;

/* The object's bytes by kind, measured from its sections (object output
 * only; -1 when not measured). */
typedef struct cg_sizes {
	int64_t code, weights, workspace;
} cg_sizes;

/* The generated API's version (NNCC_API_VERSION in every header): bumped
 * when an entry point, macro or table of the header changes meaning. */
#define CG_API_VERSION 1

typedef struct cg_options {
	const char *name;   /* symbol prefix, a C identifier; borrowed */
	int opt_level;      /* 0..3 */
	int size_level;     /* 0, or 1 for -Os */
	const char *cpu;    /* NULL: the host CPU (with its features) */
	const char *triple; /* NULL: the host triple */
	cg_output output;
	bool print_stats;   /* per-layer kernel choice and cost to stderr */
	int force_kernel;   /* a cg_kernel for every eligible layer; 0: the
			       cost model decides */
	/* if set, called as each phase of cg_compile ends ("lower": the
	 * LLVM module built; "optimize": LLVM's passes run), for nncc -v */
	void (*phase)(void *ctx, const char *name);
	void *phase_ctx;
	/* the model's provenance, as NAME_provenance in the object and macros
	 * in the header (NULL: none) */
	const char *version;    /* nncc's */
	const char *model_hash; /* FNV-1a 64 of the model file, hex */
	const char *options;    /* the options it was built with */
	bool no_static_arena;   /* --no-static-arena: no NAME_run, no arena */
	const char *weights_section; /* --weights-section: the weights' */
	cg_sizes *sizes;        /* if set, filled by cg_compile */
} cg_options;

/* What the generated run functions return (status.def). */
typedef enum cg_status {
#define STATUS(id, value, meaning) CG_##id = value,
#include "status.def"
#undef STATUS
} cg_status;

/* lower_sparse.c / sparse_cost.c: the kernel of each weight layer
 * (Conv/Gemm/MatMul/nncc.Fused* with a constant weight), chosen by a cost
 * model calibrated on bench/ (docs/kernels.md). */
typedef enum cg_kernel {
	CG_KERNEL_NONE,     /* not a weight layer */
	CG_KERNEL_DENSE,    /* the dense loop nest */
	CG_KERNEL_UNROLLED, /* non-zeros as straight-line code */
	CG_KERNEL_TABLE     /* compact CSR-like table + loop */
} cg_kernel;

typedef struct cg_kernel_choice {
	cg_kernel kind;
	int64_t params, nnz;
	int64_t bytes[4];   /* weight bytes in the object, per kernel kind
			       (unrolled: with its predicted code) */
	double ns[4];       /* predicted time per run, per kernel kind */
	int64_t code[4];    /* predicted code bytes, per kernel kind */
} cg_kernel_choice;

/* The kernel the weight at input slot of n gets under o (slot 1; W or
 * R, 1 or 2, of LSTM/GRU/RNN: ir_weight_inputs); fills *c (may be
 * NULL). The one place the choice is made: code generation emits this
 * kernel (a recurrent layer: for each of the weight's per-direction
 * products), and --print-stats, --report and the measured column print
 * it (CG_KERNEL_NONE for an input that is no weight, or a node that has
 * no code: its outputs were computed at compile time). Pure. */
cg_kernel cg_sparse_choose(const ir_node *n, int slot, const cg_options *o,
			   cg_kernel_choice *c);
const char *cg_kernel_name(cg_kernel k);

/* codegen.c */
/* The bytes of an emitted object (or assembly, LLVM IR); malloc'd. */
typedef struct cg_bytes {
	char *data;
	size_t len;
} cg_bytes;
/* Lowers g (borrowed; must have static shapes and pass ir_verify) to
 * LLVM IR, optimizes it and emits it into *out (o->sizes measured). */
bool cg_compile_bytes(ir_graph *g, const cg_options *o, cg_bytes *out,
		      nn_diag *d);
/* The same, written to path ("-" is stdout) through a temporary file, so
 * that nothing is left behind on error. */
bool cg_compile(ir_graph *g, const cg_options *o, const char *path,
		nn_diag *d);
/* Whether ops of kind k have a lowering, and whether op is one of those
 * code generation still refuses (the list codegen_test checks). */
bool cg_kind_lowers(ir_kind k);
bool cg_op_not_lowered(ir_op op);
/* Whether s is a valid C identifier. */
bool cg_is_identifier(const char *s);
/* The default model name for an output path: its stem made a C
 * identifier. Returns a malloc'd string the caller frees. */
char *cg_default_name(const char *path);

/* header.c */
/* Writes the C header of the generated API for g to path (through a
 * temporary file). */
bool cg_write_header(ir_graph *g, const cg_options *o, const char *path,
		     nn_diag *d);

/* jit.c */
/* An object file (bytes borrowed, e.g. what cg_compile wrote) loaded and
 * linked into this process, its undefined symbols (libm) resolved from
 * the process; NULL after reporting why. Tests and fuzzers run the
 * compiled model this way. Free with cg_jit_free. */
typedef struct cg_jit cg_jit;
cg_jit *cg_jit_load(const void *obj, size_t len, nn_diag *d);
/* The address of a symbol of the object (NAME_run, ...; cast to its
 * type), or 0 after reporting it missing. Valid until cg_jit_free. */
uintptr_t cg_jit_symbol(cg_jit *j, const char *name, nn_diag *d);
void cg_jit_free(cg_jit *j);

#endif
