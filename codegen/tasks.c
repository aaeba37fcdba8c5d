/* NAME_run_parallel's split of a heavy layer into tasks: how many
 * (cg_node_tasks, from the layer's work) and which work units each task
 * runs (the cumulative cost of the units, cut into equal shares). */
#include <stdint.h>

#include "cg_internal.h"

/* Multiply-adds a task is worth at least: below, the caller's
 * parallel-for costs more than the work it spreads (a few microseconds
 * per dispatch against about 50 us for this much work on one core). */
#define TASK_MIN_WORK ((int64_t)1 << 19)

/* The multiply-adds of a dense Conv, Gemm or MatMul (or fused one): the
 * output's elements times the reduction's length; 0 for another node. */
static int64_t
layer_work(const ir_node *n)
{
	ir_op op = ir_ops[n->op].kind == IR_KIND_FUSED ? ir_fused_base(n->op)
						       : n->op;
	const ir_shape *w, *a;
	int64_t out, red;

	if (n->nin < 2 || !n->in[0] || !n->in[1] || n->nout < 1 || !n->out[0])
		return 0;
	w = &n->in[1]->shape, a = &n->in[0]->shape;
	out = ir_shape_numel(&n->out[0]->shape);
	if (op == OP_Conv) {
		red = w->rank >= 1 && w->dim[0] > 0 ? ir_shape_numel(w) /
						     w->dim[0] : 0;
	} else if (op == OP_Gemm) {
		red = a->rank == 2 ? a->dim[ir_attr_i(n, "transA") ? 0
								: 1] : 0;
	} else if (op == OP_MatMul) {
		red = a->rank >= 1 ? a->dim[a->rank - 1] : 0;
	} else {
		return 0;
	}
	return out > 0 && red > 0 && out <= INT64_MAX / red ? out * red : 0;
}

int
cg_node_tasks(const ir_node *n, const cg_options *o)
{
	int64_t t;
	cg_kernel k;

	/* (an RNN's first output may be omitted: NULL) */
	if (!o || o->size_level || n->nout < 1 || !n->out[0] ||
	    n->out[0]->dtype != IR_F32)
		return 1;
	if ((t = layer_work(n) / TASK_MIN_WORK) < 2)
		return 1; /* light: no need to ask the cost model */
	/* the sparse kernels are not split (yet): one call */
	k = n->in[1]->data ? cg_sparse_choose(n, 1, o, NULL) : CG_KERNEL_DENSE;
	if (k == CG_KERNEL_UNROLLED || k == CG_KERNEL_TABLE)
		return 1;
	return t > CG_MAX_TASKS ? CG_MAX_TASKS : (int)t;
}

int64_t
cg_task_slot_bytes(const ir_node *n)
{
	return (cg_node_scratch_bytes(n) + 63) / 64 * 64;
}

/* Task t of T owns the units whose cost so far c (their start) has
 * t*W/T <= c < (t+1)*W/T, W the total; the last task takes whatever
 * follows too, so that no unit is left out. W is known only once the
 * lowering is done: tph stands for it until cg_task_finish. */
void
cg_task_setup(cg_fn *f, LLVMValueRef task, LLVMValueRef ntasks)
{
	cg_ctx *c = f->c;
	LLVMValueRef t1, last;

	f->tmult = 1;
	f->tnt = ntasks;
	f->tph = LLVMBuildFreeze(f->b, ntasks, "");
	f->tlo = LLVMBuildUDiv(f->b, LLVMBuildMul(f->b, task, f->tph, ""),
			       ntasks, "");
	t1 = LLVMBuildAdd(f->b, task, cg_i64(f, 1), "");
	last = LLVMBuildICmp(f->b, LLVMIntEQ, t1, ntasks, "");
	f->thi = LLVMBuildSelect(f->b, last, cg_i64(f, INT64_MAX),
		LLVMBuildUDiv(f->b, LLVMBuildMul(f->b, t1, f->tph, ""), ntasks,
			      ""), "");
	f->tctr = cg_alloca(f, c->i64);
	LLVMBuildStore(f->b, cg_i64(f, 0), f->tctr);
	if (f->scratch)
		f->scratch = LLVMBuildInBoundsGEP2(f->b, c->i8, f->scratch,
			(LLVMValueRef[]){LLVMBuildMul(f->b, task, cg_i64(f,
			cg_task_slot_bytes(f->n)), "")}, 1, "");
}

bool
cg_task_finish(cg_fn *f)
{
	bool split = f->ttotal > 0 && !f->tunsplit;

	if (!f->tph)
		return false;
	/* unsplit, the run passes task 0 of 1, which owns everything */
	LLVMReplaceAllUsesWith(f->tph, cg_i64(f, f->ttotal));
	LLVMInstructionEraseFromParent(f->tph);
	f->tph = NULL;
	return split;
}

/* Branches to a new block where cond holds, else to u->skip. */
static void
guard(cg_fn *f, LLVMValueRef cond, cg_unit *u)
{
	LLVMBasicBlockRef on = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn,
							     "unit");

	u->skip = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "unit.skip");
	LLVMBuildCondBr(f->b, cond, on, u->skip);
	LLVMPositionBuilderAtEnd(f->b, on);
}

void
cg_unit_begin(cg_fn *f, int64_t w, cg_unit *u)
{
	LLVMValueRef at, key;

	u->skip = NULL;
	u->in = f->tph != NULL;
	if (!f->tph || f->tin++ > 0)
		return;
	NN_ASSERT(w >= 1 && f->tdyn == 0);
	at = LLVMBuildLoad2(f->b, f->c->i64, f->tctr, "");
	LLVMBuildStore(f->b, LLVMBuildNSWAdd(f->b, at, cg_i64(f, w), ""),
		       f->tctr);
	f->ttotal += w * f->tmult;
	/* in a group kept whole, the group's start decides */
	key = f->tg0 ? LLVMBuildSelect(f->b, f->tsnap, f->tg0, at, "") : at;
	guard(f, LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntSGE, key,
		f->tlo, ""), LLVMBuildICmp(f->b, LLVMIntSLT, key, f->thi, ""),
		""), u);
}

void
cg_unit_end(cg_fn *f, cg_unit *u)
{
	if (u->in)
		f->tin--;
	if (!u->skip)
		return;
	LLVMBuildBr(f->b, u->skip);
	LLVMPositionBuilderAtEnd(f->b, u->skip);
}

/* Not a unit: the units after its prologue count, and it moves no cost.
 * A group of at most a task's share goes whole to the task that owns its
 * start, so that its prologue runs once (on ResNet-18, im2col bands
 * copied by every task that shared them made the tasks' sum a third
 * slower than the serial run); a larger one (the few bands of a 7x7
 * layer) is cut between tasks unit by unit, each running the prologue. */
void
cg_group_begin(cg_fn *f, int64_t w, cg_unit *u)
{
	LLVMValueRef at, whole, cut, share;

	u->skip = NULL;
	u->in = u->group = false;
	if (!f->tph || f->tin > 0)
		return;
	NN_ASSERT(!f->tg0 && w >= 1);
	u->group = true;
	at = LLVMBuildLoad2(f->b, f->c->i64, f->tctr, "");
	share = LLVMBuildUDiv(f->b, f->tph, f->tnt, "");
	f->tg0 = at;
	f->tsnap = LLVMBuildICmp(f->b, LLVMIntSLE, cg_i64(f, w), share, "");
	whole = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntSGE, at,
		f->tlo, ""), LLVMBuildICmp(f->b, LLVMIntSLT, at, f->thi, ""),
		"");
	cut = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, at, f->thi,
		""), LLVMBuildICmp(f->b, LLVMIntSGT, LLVMBuildNSWAdd(f->b, at,
		cg_i64(f, w), ""), f->tlo, ""), "");
	guard(f, LLVMBuildSelect(f->b, f->tsnap, whole, cut, ""), u);
}

void
cg_group_end(cg_fn *f, cg_unit *g)
{
	if (g->group)
		f->tg0 = f->tsnap = NULL;
}
