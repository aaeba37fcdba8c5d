/* Slice, Gather and Pad: ops that pick or add elements by index. Their
 * index inputs (starts/ends/axes/steps, pads) must be constants for the
 * static shape; the kernels move elements by size, for every dtype. */
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

static const void *
in_data(const ir_node *n, const void *const *in, int i)
{
	if (i >= n->nin || !n->in[i])
		return NULL;
	return in ? in[i] : n->in[i]->data;
}

/* Reads the 1-D integer input i from data (its constant value at shape
 * time, its buffer at eval time); at most max values. */
static bool
load_ints(const ir_node *n, int i, const void *data, const char *what,
	  int64_t *v, int max, int *count, nn_diag *d)
{
	const ir_value *x = n->in[i];
	if (!data) {
		nn_error_node(d, n, "input %d (%s) must be a constant", i, what);
		return false;
	}
	int64_t k = ir_shape_numel(&x->shape);
	if ((x->dtype != IR_I64 && x->dtype != IR_I32) || x->shape.rank > 1 ||
	    k < 0 || k > max) {
		nn_error_node(d, n, "input %d (%s) must be a 1-D int64 list of "
			      "at most %d values", i, what, max);
		return false;
	}
	for (int64_t j = 0; j < k; j++)
		v[j] = ir_load_i64(data, x->dtype, j);
	*count = (int)k;
	return true;
}

/* Per-axis view of the input: output index o reads input index
 * start + o * step; len is the output dim. */
typedef struct axis_map {
	int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK];
} axis_map;

static int64_t
clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ONNX Slice on one axis of size dim: negative indices count from the
 * end, then clamping to [0, dim] (or [-1, dim-1] for negative steps). */
static void
slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, axis_map *m,
	   int a)
{
	if (s < 0)
		s += dim;
	if (e < 0)
		e += dim;
	if (step < -INT64_MAX)
		step = -INT64_MAX;
	int64_t len = 0;
	if (step > 0) {
		s = clamp(s, 0, dim);
		e = clamp(e, 0, dim);
		if (e > s)
			len = (e - s - 1) / step + 1;
	} else {
		s = clamp(s, 0, dim - 1);
		e = clamp(e, -1, dim - 1);
		if (s > e)
			len = (s - e - 1) / -step + 1;
	}
	m->start[a] = s;
	m->step[a] = step;
	m->len[a] = len;
}

/* in is NULL at shape time (read constants), the buffers at eval time. */
static bool
slice_map(const ir_node *n, const void *const *in, axis_map *m, nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape;
	int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK],
		sp[IR_MAX_RANK];
	int k, ke, ka, ks;
	bool seen[IR_MAX_RANK] = {false};
	if (n->nin < 3 || !n->in[1] || !n->in[2]) {
		nn_error_node(d, n, "needs inputs 1 (starts) and 2 (ends)");
		return false;
	}
	if (!load_ints(n, 1, in_data(n, in, 1), "starts", st, xs->rank, &k,
		       d) ||
	    !load_ints(n, 2, in_data(n, in, 2), "ends", en, xs->rank, &ke, d))
		return false;
	ka = ks = k;
	for (int i = 0; i < k; i++) {
		ax[i] = i;
		sp[i] = 1;
	}
	if (n->nin > 3 && n->in[3])
		if (!load_ints(n, 3, in_data(n, in, 3), "axes", ax, xs->rank,
			       &ka, d))
			return false;
	if (n->nin > 4 && n->in[4])
		if (!load_ints(n, 4, in_data(n, in, 4), "steps", sp, xs->rank,
			       &ks, d))
			return false;
	if (ke != k || ka != k || ks != k) {
		nn_error_node(d, n, "starts, ends, axes and steps differ in "
			      "length");
		return false;
	}
	for (int a = 0; a < xs->rank; a++)
		slice_axis(xs->dim[a], 0, xs->dim[a], 1, m, a);
	for (int i = 0; i < k; i++) {
		int64_t a = ax[i] < 0 ? ax[i] + xs->rank : ax[i];
		if (a < 0 || a >= xs->rank || seen[a] || sp[i] == 0) {
			nn_error_node(d, n, sp[i] == 0 ? "steps[%d] is 0" :
				      "axes[%d] is out of range or repeated",
				      i);
			return false;
		}
		seen[a] = true;
		slice_axis(xs->dim[a], st[i], en[i], sp[i], m, (int)a);
	}
	return true;
}

bool
ir_shape_slice(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	axis_map m;
	if (!slice_map(n, NULL, &m, d))
		return false;
	ir_value *y = n->out[0];
	y->dtype = n->in[0]->dtype;
	y->shape.rank = n->in[0]->shape.rank;
	for (int a = 0; a < y->shape.rank; a++)
		y->shape.dim[a] = m.len[a];
	return true;
}

bool
ir_eval_slice(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	axis_map m;
	if (!slice_map(n, in, &m, d))
		return false;
	const ir_shape *xs = &n->in[0]->shape;
	int rank = xs->rank;
	size_t esz = ir_dtype_size(n->in[0]->dtype);
	int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, s = 1, off = 0;
	int64_t numel = 1;
	for (int a = rank - 1; a >= 0; a--) {
		st[a] = s * m.step[a];
		off += s * m.start[a];
		s *= xs->dim[a];
		numel *= m.len[a];
	}
	const char *src = in[0];
	char *dst = out[0];
	for (int64_t e = 0; e < numel; e++) {
		elem_copy(dst + (size_t)e * esz, src + (size_t)off * esz, esz);
		for (int a = rank - 1; a >= 0; a--) {
			off += st[a];
			if (++idx[a] < m.len[a])
				break;
			off -= st[a] * m.len[a];
			idx[a] = 0;
		}
	}
	return true;
}

/* Gather: out = data[:axis] + indices.shape + data[axis+1:]. */
static bool
gather_axis(const ir_node *n, int *axis, nn_diag *d)
{
	const ir_value *x = n->in[0], *ix = n->in[1];
	int64_t a = ir_attr_i(n, "axis");
	if (!ir_norm_axis(n, &a, x->shape.rank, d))
		return false;
	*axis = (int)a;
	if (ix->dtype != IR_I64 && ix->dtype != IR_I32) {
		nn_error_node(d, n, "indices must be int32 or int64, not %s",
			      ir_dtype_name(ix->dtype));
		return false;
	}
	return true;
}

/* Checks every index against dim; reports the first bad one. */
static bool
check_indices(const ir_node *n, const void *idx, int64_t dim, nn_diag *d)
{
	const ir_value *ix = n->in[1];
	int64_t k = ir_shape_numel(&ix->shape);
	for (int64_t j = 0; j < k; j++) {
		int64_t v = ir_load_i64(idx, ix->dtype, j);
		if (v < -dim || v >= dim) {
			nn_error_node(d, n, "index %lld out of range for an "
				      "axis of size %lld", (long long)v,
				      (long long)dim);
			return false;
		}
	}
	return true;
}

bool
ir_shape_gather(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0], *ix = n->in[1];
	int axis;
	if (!gather_axis(n, &axis, d))
		return false;
	if (x->shape.rank + ix->shape.rank - 1 > IR_MAX_RANK) {
		nn_error_node(d, n, "output rank exceeds %d", IR_MAX_RANK);
		return false;
	}
	if (ix->data && !check_indices(n, ix->data, x->shape.dim[axis], d))
		return false;
	/* every index would be out of range: refused now, not at run time */
	if (x->shape.dim[axis] == 0 && ir_shape_numel(&ix->shape) > 0) {
		nn_error_node(d, n, "indices into axis %d of size 0", axis);
		return false;
	}
	ir_shape s = {0};
	for (int i = 0; i < axis; i++)
		s.dim[s.rank++] = x->shape.dim[i];
	for (int i = 0; i < ix->shape.rank; i++)
		s.dim[s.rank++] = ix->shape.dim[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		s.dim[s.rank++] = x->shape.dim[i];
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = s;
	return true;
}

bool
ir_eval_gather(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	const ir_value *x = n->in[0], *ix = n->in[1];
	int axis;
	if (!gather_axis(n, &axis, d))
		return false;
	int64_t dim = x->shape.dim[axis], outer = 1, inner = 1;
	if (!check_indices(n, in[1], dim, d))
		return false;
	for (int i = 0; i < axis; i++)
		outer *= x->shape.dim[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		inner *= x->shape.dim[i];
	size_t blk = (size_t)inner * ir_dtype_size(x->dtype);
	int64_t k = ir_shape_numel(&ix->shape);
	char *dst = out[0];
	if (blk == 0)
		return true;
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t j = 0; j < k; j++) {
			int64_t v = ir_load_i64(in[1], ix->dtype, j);
			if (v < 0)
				v += dim;
			memcpy(dst, (const char *)in[0] + (size_t)(o * dim + v) *
			       blk, blk);
			dst += blk;
		}
	}
	return true;
}

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

/* Pad parameters: begin/end pads per axis (negative crops) and mode. */
typedef struct pad_params {
	pad_mode mode;
	int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK];
} pad_params;

static bool
pad_read(const ir_node *n, const void *const *in, pad_params *p,
	 nn_diag *d)
{
	static const char *const modes[] = {"constant", "reflect", "edge",
					    "wrap"};
	const ir_shape *xs = &n->in[0]->shape;
	const char *mode = ir_attr_s(n, "mode");
	int64_t pads[2 * IR_MAX_RANK], ax[IR_MAX_RANK];
	int k, ka = xs->rank;
	int m = 0;
	while (m < 4 && strcmp(mode, modes[m]) != 0)
		m++;
	p->mode = (pad_mode)m;
	if (m == 4) {
		nn_error_node(d, n, "unknown mode '%s'", mode);
		return false;
	}
	if (n->nin < 2 || !n->in[1]) {
		nn_error_node(d, n, "missing input 1 (pads)");
		return false;
	}
	for (int i = 0; i < xs->rank; i++)
		ax[i] = i;
	if (n->nin > 3 && n->in[3] &&
	    !load_ints(n, 3, in_data(n, in, 3), "axes", ax, xs->rank, &ka, d))
		return false;
	if (!load_ints(n, 1, in_data(n, in, 1), "pads", pads, 2 * xs->rank,
		       &k, d))
		return false;
	if (k != 2 * ka) {
		nn_error_node(d, n, "pads has %d values for %d axes", k, ka);
		return false;
	}
	memset(p->begin, 0, sizeof p->begin);
	memset(p->end, 0, sizeof p->end);
	bool seen[IR_MAX_RANK] = {false};
	for (int i = 0; i < ka; i++) {
		int64_t a = ax[i] < 0 ? ax[i] + xs->rank : ax[i];
		if (a < 0 || a >= xs->rank || seen[a]) {
			nn_error_node(d, n, "axes[%d] is out of range or "
				      "repeated", i);
			return false;
		}
		seen[a] = true;
		p->begin[a] = pads[i];
		p->end[a] = pads[i + ka];
	}
	return true;
}

bool
ir_shape_pad(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0], *cv = n->nin > 2 ? n->in[2] : NULL;
	pad_params p;
	if (!pad_read(n, NULL, &p, d))
		return false;
	if (cv && (cv->dtype != x->dtype || ir_shape_numel(&cv->shape) != 1)) {
		nn_error_node(d, n, "input 2 (constant_value) must be one %s",
			      ir_dtype_name(x->dtype));
		return false;
	}
	ir_shape s = x->shape;
	for (int a = 0; a < s.rank; a++) {
		/* pads come from the model: checked, since INT64_MAX pads
		 * wrapped the shape to an empty tensor */
		bool wrap = __builtin_add_overflow(s.dim[a], p.begin[a],
						   &s.dim[a]) ||
			    __builtin_add_overflow(s.dim[a], p.end[a], &s.dim[a]);
		if (wrap || s.dim[a] < 0 || (p.mode != PAD_CONSTANT &&
				     x->shape.dim[a] == 0 && s.dim[a] > 0)) {
			nn_error_node(d, n, "cannot pad axis %d of size %lld by "
				      "%lld and %lld", a,
				      (long long)x->shape.dim[a],
				      (long long)p.begin[a], (long long)p.end[a]);
			return false;
		}
	}
	if (ir_shape_numel(&s) < 0) {
		nn_error_node(d, n, "the padded tensor would have more than "
			      "%lld elements", (long long)IR_MAX_ELEMS);
		return false;
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = s;
	return true;
}

/* The input index read by input coordinate i (out of range when padding),
 * or -1 for the constant. reflect mirrors without repeating the edge, as
 * numpy does, periodically for pads wider than the axis. */
static int64_t
pad_index(pad_mode mode, int64_t i, int64_t dim)
{
	if (i >= 0 && i < dim)
		return i;
	switch (mode) {
	case PAD_CONSTANT: return -1;
	case PAD_EDGE: return i < 0 ? 0 : dim - 1;
	case PAD_WRAP: return (i % dim + dim) % dim;
	case PAD_REFLECT: {
		if (dim == 1)
			return 0;
		int64_t per = 2 * (dim - 1), m = (i % per + per) % per;
		return m >= dim ? per - m : m;
	}
	}
	nn_unreachable();
}

bool
ir_eval_pad(const ir_node *n, const void *const *in, void *const *out,
	    nn_diag *d)
{
	pad_params p;
	if (!pad_read(n, in, &p, d))
		return false;
	const ir_shape *xs = &n->in[0]->shape, *ys = &n->out[0]->shape;
	int rank = ys->rank;
	size_t esz = ir_dtype_size(n->in[0]->dtype);
	char zero[16] = {0};
	const char *val = n->nin > 2 && n->in[2] ? in[2] : zero;
	/* map[a][o]: the input offset (index times stride) or -1. */
	int64_t *map[IR_MAX_RANK], total = 0, stride = 1;
	for (int a = 0; a < rank; a++)
		total += ys->dim[a];
	int64_t *buf = nn_xcalloc((size_t)total + 1, sizeof *buf);
	for (int a = rank - 1; a >= 0; a--) {
		total -= ys->dim[a];
		map[a] = buf + total;
		for (int64_t o = 0; o < ys->dim[a]; o++) {
			int64_t i = pad_index(p.mode, o - p.begin[a],
					      xs->dim[a]);
			map[a][o] = i < 0 ? -1 : i * stride;
		}
		stride *= xs->dim[a];
	}
	int64_t numel = ir_shape_numel(ys), idx[IR_MAX_RANK] = {0};
	for (int64_t e = 0; e < numel; e++) {
		int64_t off = 0;
		for (int a = 0; a < rank && off >= 0; a++)
			off = map[a][idx[a]] < 0 ? -1 : off + map[a][idx[a]];
		elem_copy((char *)out[0] + (size_t)e * esz, off < 0 ? val :
			  (const char *)in[0] + (size_t)off * esz, esz);
		for (int a = rank - 1; a >= 0; a--) {
			if (++idx[a] < ys->dim[a])
				break;
			idx[a] = 0;
		}
	}
	free(buf);
	return true;
}
