/* Gemm and MatMul (numpy semantics: 1-D operands, broadcast batch dims):
 * shape inference and BLAS reference kernels. f32 runs in float; every
 * other numeric type runs in double and is converted back. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

static bool
numeric(const ir_node *n, nn_diag *d)
{
	ir_dtype t = n->in[0]->dtype;
	for (int i = 1; i < n->nin; i++)
		if (n->in[i] && n->in[i]->dtype != t) {
			nn_error_node(d, n, "input %d has dtype %s, expected %s "
				      "like input 0", i,
				      ir_dtype_name(n->in[i]->dtype),
				      ir_dtype_name(t));
			return false;
		}
	if (!ir_dtype_is_float(t) && !ir_dtype_is_int(t)) {
		nn_error_node(d, n, "dtype %s not supported", ir_dtype_name(t));
		return false;
	}
	return true;
}

/* Gemm's M, N, K from A, B and the trans flags. */
static bool
gemm_dims(const ir_node *n, int64_t *m, int64_t *nn, int64_t *k,
	  nn_diag *d)
{
	const ir_shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
	bool ta = ir_attr_i(n, "transA"), tb = ir_attr_i(n, "transB");
	if (a->rank != 2 || b->rank != 2) {
		nn_error_node(d, n, "A and B must be 2-D, got ranks %d and %d",
			      a->rank, b->rank);
		return false;
	}
	*m = a->dim[ta ? 1 : 0];
	*k = a->dim[ta ? 0 : 1];
	*nn = b->dim[tb ? 0 : 1];
	if (b->dim[tb ? 1 : 0] != *k) {
		nn_error_node(d, n, "inner dimensions differ: A gives K=%lld, "
			      "B gives K=%lld (transA=%d, transB=%d)",
			      (long long)*k, (long long)b->dim[tb ? 1 : 0],
			      ta, tb);
		return false;
	}
	return true;
}

static bool
shape_gemm(ir_node *n, nn_diag *d)
{
	int64_t m, nn, k;
	const ir_value *c = n->nin > 2 ? n->in[2] : NULL;
	if (!gemm_dims(n, &m, &nn, &k, d))
		return false;
	if (c) {
		const ir_shape *cs = &c->shape;
		int64_t cm = cs->rank == 2 ? cs->dim[0] : 1;
		int64_t cn = cs->rank >= 1 ? cs->dim[cs->rank - 1] : 1;
		if (cs->rank > 2 || (cm != 1 && cm != m) ||
		    (cn != 1 && cn != nn)) {
			char buf[64];
			ir_shape_str(cs, buf, sizeof buf);
			nn_error_node(d, n, "C of shape %s does not broadcast "
				      "to [%lld,%lld]", buf, (long long)m,
				      (long long)nn);
			return false;
		}
	}
	n->out[0]->shape.rank = 2;
	n->out[0]->shape.dim[0] = m;
	n->out[0]->shape.dim[1] = nn;
	return true;
}

/* MatMul's output: 1-D operands get a unit dim that is then dropped. */
static bool
shape_matmul(ir_node *n, nn_diag *d)
{
	ir_shape a = n->in[0]->shape, b = n->in[1]->shape, ba, bb, out;
	if (a.rank < 1 || b.rank < 1) {
		nn_error_node(d, n, "operands must have rank >= 1");
		return false;
	}
	int64_t k = a.dim[a.rank - 1];
	int64_t kb = b.rank == 1 ? b.dim[0] : b.dim[b.rank - 2];
	if (k != kb) {
		nn_error_node(d, n, "inner dimensions differ: %lld vs %lld",
			      (long long)k, (long long)kb);
		return false;
	}
	ba.rank = a.rank > 2 ? a.rank - 2 : 0;
	bb.rank = b.rank > 2 ? b.rank - 2 : 0;
	memcpy(ba.dim, a.dim, sizeof ba.dim);
	memcpy(bb.dim, b.dim, sizeof bb.dim);
	if (!ir_shape_broadcast(&ba, &bb, &out)) {
		nn_error_node(d, n, "batch dimensions do not broadcast");
		return false;
	}
	if (a.rank >= 2)
		out.dim[out.rank++] = a.dim[a.rank - 2];
	if (b.rank >= 2)
		out.dim[out.rank++] = b.dim[b.rank - 1];
	n->out[0]->shape = out;
	return true;
}

bool
ir_shape_gemm(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	if (!numeric(n, d))
		return false;
	n->out[0]->dtype = n->in[0]->dtype;
	return n->op == OP_Gemm ? shape_gemm(n, d) : shape_matmul(n, d);
}

/* Buffers of one evaluation, all float or all double. */
typedef struct gemm_bufs {
	const void *a, *b, *c;
	void *y;
	bool dbl;
} gemm_bufs;

static void
gemm(bool dbl, bool ta, bool tb, int64_t m, int64_t nn, int64_t k,
     double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
     double beta, void *c)
{
	enum CBLAS_TRANSPOSE tra = ta ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE trb = tb ? CblasTrans : CblasNoTrans;
	/* BLAS rejects leading dimensions of 0 even for empty matrices. */
	lda = lda > 0 ? lda : 1;
	ldb = ldb > 0 ? ldb : 1;
	if (m == 0 || nn == 0)
		return;
	if (dbl)
		cblas_dgemm(CblasRowMajor, tra, trb, (int)m, (int)nn, (int)k,
			    alpha, a, (int)lda, b, (int)ldb, beta, c, (int)nn);
	else
		cblas_sgemm(CblasRowMajor, tra, trb, (int)m, (int)nn, (int)k,
			    (float)alpha, a, (int)lda, b, (int)ldb, (float)beta,
			    c, (int)nn);
}

static void
set_elem(const gemm_bufs *io, int64_t i, double v)
{
	if (io->dbl)
		((double *)io->y)[i] = v;
	else
		((float *)io->y)[i] = (float)v;
}

static void
run_gemm(const ir_node *n, const gemm_bufs *io)
{
	bool ta = ir_attr_i(n, "transA"), tb = ir_attr_i(n, "transB");
	double alpha = ir_attr_f(n, "alpha");
	double beta = ir_attr_f(n, "beta");
	int64_t m = n->out[0]->shape.dim[0], nn = n->out[0]->shape.dim[1];
	int64_t k = n->in[0]->shape.dim[ta ? 0 : 1];
	bool with_c = io->c && beta != 0.0;
	if (with_c) {
		const ir_shape *cs = &n->in[2]->shape;
		int64_t cm = cs->rank == 2 ? cs->dim[0] : 1;
		int64_t cn = cs->rank >= 1 ? cs->dim[cs->rank - 1] : 1;
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < nn; j++) {
				int64_t ci = (cm == 1 ? 0 : i) * cn +
					     (cn == 1 ? 0 : j);
				set_elem(io, i * nn + j, beta *
					 (io->dbl ? ((const double *)io->c)[ci]
						  : ((const float *)io->c)[ci]));
			}
	}
	gemm(io->dbl, ta, tb, m, nn, k, alpha, io->a, n->in[0]->shape.dim[1],
	     io->b, n->in[1]->shape.dim[1], with_c ? 1.0 : 0.0, io->y);
}

/* Element offset of batch index `idx` (of out's batch dims) in an operand
 * whose batch dims are s[0..r) (right-aligned, broadcast). */
static int64_t
batch_offset(const int64_t *idx, int ob, const int64_t *s, int r,
	     int64_t mat)
{
	int64_t off = 0;
	for (int i = 0; i < r; i++) {
		int64_t o = idx[ob - r + i];
		off = off * s[i] + (s[i] == 1 ? 0 : o);
	}
	return off * mat;
}

static void
run_matmul(const ir_node *n, const gemm_bufs *io)
{
	const ir_shape *as = &n->in[0]->shape, *bs = &n->in[1]->shape;
	const ir_shape *ys = &n->out[0]->shape;
	size_t es = io->dbl ? sizeof(double) : sizeof(float);
	int64_t k = as->dim[as->rank - 1];
	int64_t m = as->rank >= 2 ? as->dim[as->rank - 2] : 1;
	int64_t nn = bs->rank >= 2 ? bs->dim[bs->rank - 1] : 1;
	int ra = as->rank > 2 ? as->rank - 2 : 0, rb = bs->rank > 2 ?
							    bs->rank - 2 : 0;
	int ob = ra > rb ? ra : rb;
	int64_t idx[IR_MAX_RANK] = {0}, nb = 1;
	for (int i = 0; i < ob; i++)
		nb *= ys->dim[i];
	for (int64_t t = 0; t < nb; t++) {
		int64_t oa = batch_offset(idx, ob, as->dim, ra, m * k);
		int64_t obb = batch_offset(idx, ob, bs->dim, rb, k * nn);
		gemm(io->dbl, false, false, m, nn, k, 1.0,
		     (const char *)io->a + (size_t)oa * es, k,
		     (const char *)io->b + (size_t)obb * es, nn, 0.0,
		     (char *)io->y + (size_t)(t * m * nn) * es);
		for (int i = ob - 1; i >= 0; i--) {
			if (++idx[i] < ys->dim[i])
				break;
			idx[i] = 0;
		}
	}
}

bool
ir_eval_gemm(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	(void)d;
	void (*run)(const ir_node *, const gemm_bufs *) =
		n->op == OP_Gemm ? run_gemm : run_matmul;
	const void *c = n->nin > 2 && n->in[2] ? in[2] : NULL;
	ir_dtype t = n->in[0]->dtype;
	if (t == IR_F32 || t == IR_F64) {
		gemm_bufs io = {in[0], in[1], c, out[0], t == IR_F64};
		run(n, &io);
		return true;
	}
	/* Other types: compute in double (exact for integers below 2^53). */
	const ir_value *y = n->out[0];
	int64_t ny = ir_shape_numel(&y->shape);
	gemm_bufs io = {elem_to_f64(n->in[0], in[0]),
			elem_to_f64(n->in[1], in[1]),
			c ? elem_to_f64(n->in[2], c) : NULL,
			nn_xmalloc((size_t)(ny > 0 ? ny : 1) * sizeof(double)),
			true};
	run(n, &io);
	for (int64_t i = 0; i < ny; i++)
		ir_store_f64(out[0], t, i, ((double *)io.y)[i]);
	free((void *)io.a);
	free((void *)io.b);
	free((void *)io.c);
	free(io.y);
	return true;
}
