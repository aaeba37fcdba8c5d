/* Internals shared by the codegen files: the lowering context, the loop
 * builder, scalar helpers and the per-kind lowering entry points. Only
 * codegen/ includes this header (and so llvm-c). */
#ifndef NNCC_CG_INTERNAL_H
#define NNCC_CG_INTERNAL_H

#include <llvm-c/Core.h>

#include "codegen.h"

/* plan.c: where every value lives at run time. */
typedef enum cg_loc {
	CG_LOC_NONE,   /* not needed (omitted or unused) */
	CG_LOC_INPUT,  /* caller's inputs[index] */
	CG_LOC_OUTPUT, /* caller's outputs[index] */
	CG_LOC_CONST,  /* private constant global (weights or folded data) */
	CG_LOC_ARENA,  /* workspace + offset */
	CG_LOC_ALIAS   /* same bytes as `alias` (reshape-like views) */
} cg_loc;

typedef struct cg_buf {
	const ir_value *v;
	cg_loc loc;
	int index;             /* CG_LOC_INPUT / CG_LOC_OUTPUT */
	int64_t offset, size;  /* CG_LOC_ARENA; size in bytes */
	int first, last;       /* live node range (arena buffers) */
	struct cg_buf *alias;  /* CG_LOC_ALIAS: the buffer aliased */
	LLVMValueRef global;   /* CG_LOC_CONST, filled by codegen */
} cg_buf;

typedef struct cg_plan {
	int nbufs, cap;
	cg_buf *bufs;
	int *table; /* open-addressing map value -> bufs index (+1) */
	int tsize;
	int64_t arena_size;
	bool *skip; /* per node (in order): outputs all constant data */
	int *scratch; /* per node: bufs index + 1 of its scratch, or 0 */
	int nnodes;
} cg_plan;

/* Builds the plan of g; returns NULL after reporting a problem. o: the
 * options of a top-level graph, whose split layers (cg_node_tasks) get a
 * scratch slot per task; NULL for a subgraph (never split). */
cg_plan *cg_plan_build(ir_graph *g, const cg_options *o, nn_diag *d);
void cg_plan_free(cg_plan *p);
/* Whether n computes something at run time: some output is not known at
 * compile time and none is empty (or it checks its inputs anyway: the
 * CHECKS flag of ops.def). Only such a node gets a function (and a kernel:
 * cg_sparse_choose). */
bool cg_node_runs(const ir_node *n);
cg_buf *cg_plan_find(const cg_plan *p, const ir_value *v);
/* The node's workspace scratch: enough for its dense kernel and for a
 * sparse one, whichever the cost model picks (0: none). */
int64_t cg_node_scratch_bytes(const ir_node *n);
/* Follows aliases to the buffer that owns the bytes. */
cg_buf *cg_buf_root(cg_buf *b);
/* Whether op is a reshape-like view the planner may alias. */
bool cg_is_view_op(ir_op op);

/* codegen.c: the lowering context. */
typedef struct cg_ctx {
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMBuilderRef b;
	ir_graph *g;
	nn_diag *d;
	const char *name;
	const cg_options *o;
	LLVMTypeRef i1, i8, i16, i32, i64, f16, f32, f64, ptr;
	int vl, nregs; /* f32 lanes and registers of the target's vectors */
	const ir_value *cb_w; /* cg_codebook's last weight and its global */
	LLVMValueRef cb_g;
	cg_plan *plan;
	bool profile;         /* time every node call (profile.c) */
	LLVMValueRef prof;    /* the profile's per-node tick counters */
	LLVMValueRef **consts; /* per node: the globals its function takes
				  as trailing parameters (lift.c), or NULL */
	int *tasks;           /* per node of the top-level graph (NULL in a
				 subgraph): 0, its function takes no task
				 parameters; else the tasks run_parallel
				 runs it as (1: one call, serially) */
} cg_ctx;

/* status.c: the run function's run-time checks. With status NULL, on
 * entry: CG_ERR_NULL for a NULL array, buffer or (ws > 0 bytes needed)
 * workspace; else after a node call: a non-CG_OK status is returned at
 * once, the outputs then possibly partly written. The builder goes on
 * along the good path. */
void cg_run_check(cg_ctx *c, LLVMValueRef run, LLVMValueRef status,
		  int64_t ws);

/* codegen.c: builds the module of g (profile: with per-node tick
 * counters); cg_ctx_dispose frees the context and plan, not the module. */
bool cg_build(cg_ctx *c, ir_graph *g, const cg_options *o, bool profile,
	      nn_diag *d);
void cg_ctx_dispose(cg_ctx *c);

/* codegen.c: node n's function (NULL after reporting), and an enum
 * attribute on a function or parameter. */
LLVMValueRef cg_build_node(cg_ctx *c, const ir_node *n, int idx);
void cg_add_attr(cg_ctx *c, LLVMValueRef fn, unsigned idx, const char *name);

/* The section of the metadata (NAME_info's tables, NAME_provenance),
 * which are not weights whatever --weights-section says (emit.c). */
#define CG_META_SECTION ".rodata.nncc_meta"
/* Whether the module's target writes ELF objects; g into the metadata
 * section (ELF, but not -Os: one section less). */
bool cg_elf_target(cg_ctx *c);
void cg_meta_section(cg_ctx *c, LLVMValueRef g);

/* header.c: the provenance text (malloc'd) of the object's
 * NAME_provenance and the header's NAME_PROVENANCE. */
char *cg_provenance(const cg_options *o);

/* run.c: the run function over the node functions (false after
 * reporting), then NAME_run, NAME_run_parallel and NAME_workspace_size. */
bool cg_build_run(cg_ctx *c, cg_plan *p);
/* An internal function (ins, outs, ws) -> status running subgraph g on
 * plan p (its node functions, their calls, the output copies), without
 * the entry checks: the caller built the arrays. NULL after reporting.
 * The builder's position is kept. */
LLVMValueRef cg_build_graph_fn(cg_ctx *c, ir_graph *g, cg_plan *p,
			       const char *name);
/* fpenv.c: whether the target's run wraps its body to set the contract's
 * FP state (x86), and the wrapper: wrap(ins, outs, ws[, pf, ctx]) saves
 * the caller's state, sets the contract's, returns body(ins, outs, ws,
 * pf, ctx) (NULL for the parameters wrap lacks) after restoring; without
 * a wrapping target the same call without the FP state. cg_fpenv_enter
 * and cg_fpenv_leave do it around other code (a task on another thread):
 * enter's result goes to leave (NULL: nothing to restore). */
bool cg_fpenv_wraps(cg_ctx *c);
void cg_fpenv_wrap(cg_ctx *c, LLVMValueRef wrap, LLVMValueRef body);
LLVMValueRef cg_fpenv_enter(cg_ctx *c);
void cg_fpenv_leave(cg_ctx *c, LLVMValueRef saved);
void cg_build_entries(cg_ctx *c, const cg_plan *p);

/* lift.c: fn, or fn rebuilt to take the private constants it reads as
 * trailing parameters (fn is then deleted); *consts: those globals in
 * parameter order, NULL-terminated and malloc'd, or NULL. */
LLVMValueRef cg_lift_consts(cg_ctx *c, LLVMValueRef fn,
			    LLVMValueRef **consts);

/* profile.c: the counters cg_build_run (run.c) adds around every node call. */
void cg_profile_begin(cg_ctx *c, int nnodes);
LLVMValueRef cg_profile_tick(cg_ctx *c);
void cg_profile_add(cg_ctx *c, int node, LLVMValueRef t0);
/* --print-stats: per weight layer, the measured time of its kernel next
 * to the cost model's prediction (host targets only). */
void cg_print_measured(ir_graph *g, const cg_options *o, nn_diag *d);

/* The function of one node being built. in[i] and out[i] are typed
 * element pointers (NULL for an omitted operand). */
typedef struct cg_fn {
	cg_ctx *c;
	LLVMBuilderRef b;
	LLVMValueRef fn;
	const ir_node *n;
	LLVMValueRef *in, *out;
	LLVMValueRef scratch;  /* i8* to cg_scratch_bytes(n) bytes, or NULL */
	const ir_node *fused;  /* the nncc.Fused* node while its base op is
				  lowered on a view; NULL otherwise */
	bool epi_done;         /* the base op applied the fused epilogue */
	LLVMValueRef wcodes;   /* cg_weight_load's code table, made once */
	LLVMValueRef err;      /* i1 slot: a run-time error happened */
	cg_status err_code;    /* the node function then returns this */
	/* tasks.c: the task split (all NULL/0 when the node is not split) */
	LLVMValueRef tlo, thi; /* this task's range of work units' cost */
	LLVMValueRef tctr;     /* i64 slot: cost of the units passed so far */
	LLVMValueRef tph;      /* placeholder of the total, set at the end */
	LLVMValueRef tnt;      /* the task count parameter */
	LLVMValueRef tg0, tsnap; /* in a group: its start, kept whole (i1) */
	int64_t tmult;         /* trips of the static loops around the builder */
	int64_t ttotal;        /* the units' total cost so far */
	int tin, tdyn;         /* inside a unit; inside a run-time loop */
	bool tunsplit;         /* the lowering wrote outside its units */
} cg_fn;

typedef struct cg_loop {
	LLVMBasicBlockRef pre, body;
	LLVMValueRef iv, end;
	int64_t trip;          /* static trip count, 0 for a run-time one */
} cg_loop;

/* tasks.c: NAME_run_parallel splits a heavy layer into tasks (the one
 * place that decides how: cg_node_tasks); each runs the node function
 * with its index, which executes only the work units whose cumulative
 * cost falls in the task's share, so that every output element is
 * computed by one task with the serial code. */
/* Twice the two cores nncc is developed on: on ResNet-18 with two threads,
 * 8 tasks made the tasks' sum 17% more work than the serial run (the few
 * large im2col bands of the 14x14 and 7x7 stages copied by every task
 * sharing them) and ran in 1.59x less time than NAME_run; 4 tasks: 3% more
 * work, 1.76x (bench/README.md). */
#define CG_MAX_TASKS 4
/* The tasks n runs as under o (1: not split; always 1 for NULL o, -Os, a
 * sparse kernel and light layers). Pure: the planner and the lowering
 * agree. */
int cg_node_tasks(const ir_node *n, const cg_options *o);
/* The bytes of one task's scratch slot of n (64-byte multiple). */
int64_t cg_task_slot_bytes(const ir_node *n);
/* At the node function's entry: the task parameters (i64 task, ntasks)
 * and f->scratch moved to the task's slot. */
void cg_task_setup(cg_fn *f, LLVMValueRef task, LLVMValueRef ntasks);
/* After the lowering: whether the node is split (it emitted units and
 * wrote nothing outside them). */
bool cg_task_finish(cg_fn *f);
typedef struct cg_unit {
	LLVMBasicBlockRef skip; /* after the guarded code, or NULL */
	bool in;                /* counted in f->tin */
	bool group;             /* a group: f->tg0 set */
} cg_unit;
/* A work unit of cost w >= 1: the code up to cg_unit_end runs in the
 * task that owns it only; inside a unit, nested ones are plain code. A
 * unit writes output elements no other unit writes, inside static loops
 * (cg_loop_begin) only. */
void cg_unit_begin(cg_fn *f, int64_t w, cg_unit *u);
void cg_unit_end(cg_fn *f, cg_unit *u);
/* A group of units of total cost w with a prologue (an im2col copy into
 * the scratch): cg_group_begin starts the prologue, which runs in every
 * task that owns one of the units; cg_unit_end(g) ends it, then come the
 * units and cg_group_end. */
void cg_group_begin(cg_fn *f, int64_t w, cg_unit *g);
void cg_group_end(cg_fn *f, cg_unit *g);

LLVMTypeRef cg_type(cg_ctx *c, ir_dtype t);
LLVMValueRef cg_i64(cg_fn *f, int64_t v);
/* i64 index arithmetic without signed overflow: a + b, and a * k (a
 * itself when k is 1). */
LLVMValueRef cg_iadd(cg_fn *f, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_imul(cg_fn *f, LLVMValueRef a, int64_t k);
LLVMValueRef cg_fconst(cg_fn *f, ir_dtype t, double v);
/* A constant of type t (float or int) holding v. */
LLVMValueRef cg_const(cg_fn *f, ir_dtype t, double v);
/* Starts a counted loop 0..n-1 (n >= 1) and positions the builder in its
 * body; returns the i64 induction variable. */
LLVMValueRef cg_loop_begin(cg_fn *f, int64_t n, cg_loop *l);
void cg_loop_end(cg_fn *f, cg_loop *l);
/* Same with a runtime trip count (may be 0). */
LLVMValueRef cg_loop_begin_dyn(cg_fn *f, LLVMValueRef lo, LLVMValueRef hi,
			       cg_loop *l);
void cg_loop_end_dyn(cg_fn *f, cg_loop *l);
/* The end of loop l (dyn: a cg_loop_begin_dyn one), which LLVM must not
 * vectorize: with its inner loops unrolled (short rows, a constant
 * tile) it would be across rows or channels, with gathers and scatters
 * (and LLVM 14 miscompiles some of those: grouped ConvTranspose). */
void cg_loop_end_novec(cg_fn *f, cg_loop *l, bool dyn);
/* Nest of loops over dims[0..rank-1] (all >= 1), outermost first. */
void cg_nest_begin(cg_fn *f, int rank, const int64_t *dims,
		   LLVMValueRef *ivs, cg_loop *loops);
void cg_nest_end(cg_fn *f, int rank, cg_loop *loops);
/* sum(ivs[k] * strides[k]) + base, skipping zero strides. */
LLVMValueRef cg_linear(cg_fn *f, int rank, const LLVMValueRef *ivs,
		       const int64_t *strides, int64_t base);
LLVMValueRef cg_gep(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx);
LLVMValueRef cg_load(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx);
void cg_store(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, LLVMValueRef v);
LLVMValueRef cg_add(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_mul(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_max(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_min(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b);
/* A call of the function (or intrinsic) `name`, declared on first use
 * with the arguments' types. */
LLVMValueRef cg_call(cg_fn *f, const char *name, LLVMTypeRef ret,
		     LLVMValueRef *args, int nargs);
/* An llvm.NAME.f32/f64 intrinsic of one or two operands. */
LLVMValueRef cg_intrin(cg_fn *f, const char *name, ir_dtype t, int nargs,
		       LLVMValueRef *args);
/* A libm call (for float: NAMEf) of one operand. */
LLVMValueRef cg_libm(cg_fn *f, const char *name, ir_dtype t, LLVMValueRef x);
/* vmath.c: f32 exp, log, tanh, sigmoid and erf of a float or <n x float>
 * value as inline, branchless LLVM IR (loops over them vectorize; no libm
 * call); cg_math: fn in type t (cg_ctype), cg_vm for f32 and libm for
 * f64; cg_vm_const: the float v in like's type (splat for a vector). */
typedef enum cg_mfn { CG_EXP, CG_LOG, CG_TANH, CG_SIGMOID, CG_ERF } cg_mfn;
LLVMValueRef cg_vm(cg_fn *f, cg_mfn fn, LLVMValueRef x);
LLVMValueRef cg_math(cg_fn *f, cg_mfn fn, ir_dtype t, LLVMValueRef x);
LLVMValueRef cg_vm_const(cg_fn *f, LLVMValueRef like, double v);
/* Converts v from type `from` to `to` with ONNX Cast semantics. */
LLVMValueRef cg_convert(cg_fn *f, LLVMValueRef v, ir_dtype from,
			ir_dtype to);
/* Copies nbytes from src+soff to dst+doff (byte offsets). */
void cg_memcpy(cg_fn *f, LLVMValueRef dst, LLVMValueRef doff,
	       LLVMValueRef src, LLVMValueRef soff, int64_t nbytes);
/* The type arithmetic happens in: f32 for f16/bf16, else t. */
ir_dtype cg_ctype(ir_dtype t);
/* Load/store of element idx converting to/from cg_ctype(t). */
LLVMValueRef cg_load_c(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx,
		       ir_dtype t);
void cg_store_c(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx,
		LLVMValueRef v, ir_dtype t);
/* Element idx of the node's input k as an f64 (kernels that compute in
 * double as the interpreter does). */
LLVMValueRef cg_load_f64(cg_fn *f, int k, LLVMValueRef idx);
/* Merges adjacent dims (and drops size-1 dims) of an iteration space
 * where every stride array st[0..nst-1] stays linear. */
void cg_coalesce(int *rank, int64_t *dims, int nst, int64_t (*st)[IR_MAX_RANK]);
LLVMValueRef cg_alloca(cg_fn *f, LLVMTypeRef t);
/* Row-major strides of s (elements). */
void cg_strides(const ir_shape *s, int64_t *st);
/* Broadcast strides of `in` against out (0 on broadcast dims). */
void cg_bcast_strides(const ir_shape *in, const ir_shape *out, int64_t *st);
/* codes.c: shared weights as a bitstream of ir_code_bits(ncodes)-bit
 * codebook indices (cg_code_table) plus the codebook (cg_codebook). */
bool cg_weight_shared(const ir_value *w);
LLVMValueRef cg_code_table(cg_fn *f, const uint8_t *codes, int64_t n,
			   int bits);
LLVMValueRef cg_codebook(cg_fn *f, const ir_value *w);
/* Code e (i64), and codes e0..e0+n-1 as <n x i32> (e0 * bits % 8 == 0). */
LLVMValueRef cg_code_load(cg_fn *f, LLVMValueRef t, LLVMValueRef e,
			  int bits);
LLVMValueRef cg_code_vload(cg_fn *f, LLVMValueRef t, LLVMValueRef e0, int n,
			   int bits);
/* codebook[idx] for an <n x i32> idx. */
LLVMValueRef cg_code_lookup(cg_fn *f, LLVMValueRef cb, int ncodes,
			    LLVMValueRef idx, int n);
/* Element idx of the node's weight (input 1), shared or not. */
LLVMValueRef cg_weight_load(cg_fn *f, LLVMValueRef idx);
/* A private constant global holding nbytes of data. */
LLVMValueRef cg_const_global(cg_ctx *c, const char *tag, const void *data,
			     size_t nbytes);
/* Element pointer of type t to a constant table of n int64s. */
LLVMValueRef cg_i64_table(cg_fn *f, const int64_t *v, int64_t n);
LLVMValueRef cg_f32_table(cg_fn *f, const float *v, int64_t n);
/* The integer value of a constant input's data (in[i]->data); false with
 * an error when it is not constant. */
bool cg_const_ints(cg_fn *f, int i, int64_t *v, int64_t max, int64_t *n);
/* status.c: a run-time error check: where bad (i1) holds, the node function
 * returns code once its loops finish (the run function then stops). The
 * caller keeps memory safe (a clamped index, a safe divisor); values it
 * stores for bad elements are unspecified. One code per node. */
void cg_runtime_error(cg_fn *f, LLVMValueRef bad, cg_status code);
/* A run-time index of type it into an axis of d > 0 elements: negative
 * counts from the end; out of range is CG_ERR_INDEX and reads element 0,
 * so memory stays safe. Returns the i64 index. */
LLVMValueRef cg_index(cg_fn *f, LLVMValueRef idx, ir_dtype it, int64_t d);
/* The index checks alone, for a node whose output is empty: the count
 * indices of type it at idx, element j against dims[j % k] (all > 0). */
void cg_check_indices(cg_fn *f, LLVMValueRef idx, ir_dtype it, int64_t count,
		      int k, const int64_t *dims);
/* The node function's return value: CG_OK, or its code if a check
 * failed. */
LLVMValueRef cg_node_status(cg_fn *f);
bool cg_fail(cg_fn *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Normalizes a possibly negative axis; -1 if out of range. */
int cg_axis(int64_t a, int rank);

/* The rows of a k x n weight (n x k when tb) with a non-zero, the only
 * ones the dense kernel keeps at -O2 and up (lower_gemm.c); their indices
 * go to live (NULL: only counted). */
int64_t cg_gemm_live_rows(const float *w, bool tb, int64_t k, int64_t n,
			  int64_t *live);

/* The lowering hooks: build the body of f (entry block positioned; the
 * caller adds the return, CG_OK unless cg_runtime_error was called).
 * False after reporting an error. */
bool cg_lower_unary(cg_fn *f);
bool cg_lower_binary(cg_fn *f);
bool cg_lower_conv(cg_fn *f);
bool cg_lower_gemm(cg_fn *f);
bool cg_lower_pool(cg_fn *f);
bool cg_lower_norm(cg_fn *f);
bool cg_lower_softmax(cg_fn *f);
bool cg_lower_reduce(cg_fn *f);
bool cg_lower_data(cg_fn *f); /* reshape, transpose, concat, split, slice,
				 gather, pad, cast, constant */
bool cg_lower_resize(cg_fn *f);
bool cg_lower_fused(cg_fn *f); /* base Conv/Gemm + epilogue */
bool cg_lower_fused_epilogue(cg_fn *f);
/* lower_elementwise.c: the activation of the fused node being lowered
 * (f->fused, else f->n) on y, a float or a vector of f32 (not Clip). */
LLVMValueRef cg_act_apply(cg_fn *f, LLVMValueRef y);
bool cg_lower_nary(cg_fn *f);    /* lower_nary.c: IR_KIND_NARY */
bool cg_lower_expand(cg_fn *f);  /* IR_KIND_EXPAND */
bool cg_lower_scatter(cg_fn *f); /* IR_KIND_SCATTER */
bool cg_lower_rnn(cg_fn *f);     /* lower_rnn.c: IR_KIND_RNN */
bool cg_lower_signal(cg_fn *f);  /* lower_signal.c: IR_KIND_SIGNAL */
bool cg_lower_loss(cg_fn *f);    /* lower_loss.c: IR_KIND_LOSS */
bool cg_lower_index(cg_fn *f);   /* lower_index.c: IR_KIND_INDEX */
bool cg_lower_sample(cg_fn *f);  /* lower_sample.c: IR_KIND_SAMPLE */
/* lower_rnn.c: the workspace a recurrent layer's kernel needs (its
 * projections, states and per-step products), 0 for any other node. */
int64_t cg_rnn_scratch_bytes(const ir_node *n);
bool cg_lower_linalg(cg_fn *f);  /* lower_linalg.c: IR_KIND_LINALG */
/* lower_linalg.c: Det's scratch (one matrix in double), 0 for any other
 * node. */
int64_t cg_linalg_scratch_bytes(const ir_node *n);
/* lower_control.c: If, Loop and Scan call their subgraphs' functions;
 * the scratch holds the subgraph's arena and the loop state. */
bool cg_lower_control(cg_fn *f);
int64_t cg_control_scratch_bytes(const ir_node *n);

/* sparse_cost.c: the kernel of a weight layer (dense, or a sparse kernel
 * that cg_lower_sparse builds; a recurrent layer's is dense here: its
 * lowering asks cg_sparse_choose for each weight); announce: print every
 * weight's under --print-stats. */
cg_kernel cg_sparse_kernel(cg_ctx *c, const ir_node *n, bool announce);
bool cg_lower_sparse(cg_fn *f, cg_kernel k);

/* gemm_kernel.c: register-blocked C = A * B on explicit vectors. */
/* CG_ACT_OP: any other VACT row, through cg_act_apply. */
typedef enum cg_act {
	CG_ACT_NONE, CG_ACT_RELU, CG_ACT_CLIP, CG_ACT_OP
} cg_act;

typedef struct cg_gemm {
	int64_t m, n, k;
	int mr, nv;             /* tile: mr rows x nv vectors (cg_gemm_tile) */
	/* A(i, k) at a + a0 + (i / mr) * amb + (i % mr) * sam + k * sak. */
	LLVMValueRef a, a0;
	int64_t sam, sak, amb;
	/* B(k, j) at b + b0 + (j / nw) * bnb + k * sbk + j % nw, nw = nv*vl;
	 * in the last, partial tile the row stride is sbkt (when not 0);
	 * bpad: its rows are zero-padded to whole vectors (no masked loads). */
	LLVMValueRef b, b0;
	int64_t sbk, bnb, sbkt;
	bool bpad;
	/* Optional: an i64 table of k entries, A's k index for B's row k
	 * (B then holds only the rows a kernel needs: the others' inputs
	 * are never read). */
	LLVMValueRef kmap;
	/* Shared weights: a (b) is then a cg_code_table bitstream in the
	 * same element order, of abits (bbits) per code, into acb (bcb) of
	 * ancodes (bncodes) floats; B's vectors must be padded (bpad). */
	LLVMValueRef acb, bcb;
	int abits, bbits, ancodes, bncodes;
	LLVMValueRef c, c0;     /* C(i, j) at c + c0 + i * scm + j */
	int64_t scm;
	/* Optional: y = act(alpha * AB + beta * bias(i, j) + res(i, j)). */
	LLVMValueRef bias, bias0, res, res0;
	int64_t sbi, sbj;       /* bias strides (0: broadcast) */
	double alpha, beta;
	cg_act act;
	double lo, hi;          /* CG_ACT_CLIP bounds */
} cg_gemm;

/* lower_gemm.c: a constant W (k x n, or n x k when tb; borrowed) packed
 * for cg_gemm_emit as [tiles][k][nw], the last, partial tile as
 * [k][n % nw] (no padding: small layers stay small). */
LLVMValueRef cg_pack_b(cg_fn *f, const float *w, int64_t k, int64_t n,
		       bool tb, int64_t nw);
/* Picks mr and nv for an m x n product on c's vectors (A broadcast). */
void cg_gemm_tile(const cg_ctx *c, int64_t m, int64_t n, int *mr, int *nv);
/* Emits the loops of g at the builder; each register tile is a work
 * unit (tasks.c) of the cost cg_gemm_work sums. */
void cg_gemm_emit(cg_fn *f, const cg_gemm *g);
int64_t cg_gemm_work(const cg_ctx *c, const cg_gemm *g);
/* The fused activation of n (nncc.Fused*) when the kernels can apply it
 * in registers; false for an activation they leave to the epilogue. */
bool cg_gemm_act(const ir_node *n, cg_act *act, double *lo, double *hi);
LLVMTypeRef cg_vtype(cg_ctx *c);
LLVMValueRef cg_vload(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, int nv);
void cg_vstore(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, LLVMValueRef v,
	       int nv);
LLVMValueRef cg_vsplat(cg_fn *f, LLVMValueRef x);
LLVMValueRef cg_vfma(cg_fn *f, LLVMValueRef a, LLVMValueRef b,
		     LLVMValueRef c);
/* Loop metadata: the loop of latch branch br is not unrolled. */
void cg_no_unroll(cg_fn *f, LLVMValueRef br);
/* cg_loop_end, and the loop is not unrolled. */
void cg_loop_end_nounroll(cg_fn *f, cg_loop *l);
/* act(v) on a vector. */
LLVMValueRef cg_vact(cg_fn *f, LLVMValueRef v, cg_act act, double lo,
		     double hi);

/* lower_conv.c: workspace bytes n's kernel needs (0: none). Pure, so the
 * planner and the lowering agree. */
int64_t cg_scratch_bytes(const ir_node *n);
/* The dense form cg_lower_conv emits for a Conv or FusedConv ("im2col",
 * "1x1", "depthwise" or "generic"); NULL for another op. */
const char *cg_conv_form(const ir_node *n);
/* sparse_cost.c: workspace bytes a sparse conv kernel for n would need
 * (0: n cannot take one). */
int64_t cg_sparse_scratch_bytes(const ir_node *n);

/* emit.c */
/* Verifies, optimizes and writes the module (taken: disposed here). */
bool cg_emit(cg_ctx *c, const cg_options *o, cg_bytes *out);
/* cg_emit's verification and optimization, without writing. */
bool cg_prepare(cg_ctx *c, const cg_options *o);
/* Sets the module's triple and data layout for o; false on a bad target.
 * Needed before lowering so size_t has the target's width. */
bool cg_setup_target(cg_ctx *c, const cg_options *o);
/* Frees the target machine cg_setup_target made, when the module it was
 * for is given up before cg_emit or cg_prepare (which free it). */
void cg_release_target(void);

#endif
