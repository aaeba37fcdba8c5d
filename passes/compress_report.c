/* What lossy compression cost and saved: fidelity of a compressed graph
 * against its reference on calibration samples (both run by the
 * interpreter), per-layer sparsity and storage, and the --report table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* Both graphs take the same inputs and give the same outputs, and
 * output 0 has one row per sample. */
static bool
check_pair(const ir_graph *a, const ir_graph *b, const pass_data *x,
	   nn_diag *d)
{
	bool same = a->ninputs == b->ninputs && a->ninputs >= 1;
	for (int i = 0; same && i < a->ninputs; i++)
		same = a->inputs[i]->dtype == b->inputs[i]->dtype &&
		       ir_shape_eq(&a->inputs[i]->shape, &b->inputs[i]->shape);
	if (!same) {
		nn_error(d, "fidelity: the models have different inputs");
		return false;
	}
	if (a->noutputs < 1 || a->noutputs != b->noutputs) {
		nn_error(d, "fidelity: the models have different outputs");
		return false;
	}
	for (int i = 0; i < a->noutputs; i++)
		if (!ir_shape_eq(&a->outputs[i]->shape, &b->outputs[i]->shape) ||
		    a->outputs[i]->dtype != b->outputs[i]->dtype) {
			nn_error(d, "fidelity: output %d differs in type", i);
			return false;
		}
	if (!pass_data_check(a, x, d))
		return false;
	int64_t B = pass_data_batch(a);
	const ir_shape *o = &a->outputs[0]->shape;
	if (o->rank < 1 || o->dim[0] != B) {
		nn_error(d, "fidelity: output 0 has no per-sample rows (batch "
			 "%lld)", (long long)B);
		return false;
	}
	return true;
}

/* Output buffers for g (numel * dtype size each). */
static void **
alloc_outputs(const ir_graph *g)
{
	void **o = nn_xcalloc((size_t)g->noutputs, sizeof *o);
	for (int i = 0; i < g->noutputs; i++) {
		const ir_value *v = g->outputs[i];
		int64_t n = ir_shape_numel(&v->shape);
		o[i] = nn_xcalloc((size_t)(n ? n : 1), ir_dtype_size(v->dtype));
	}
	return o;
}

static void
free_outputs(void **o, int n)
{
	for (int i = 0; i < n; i++)
		free(o[i]);
	free(o);
}

static int64_t
argmax(const void *data, ir_dtype t, int64_t off, int64_t n)
{
	int64_t best = 0;
	for (int64_t i = 1; i < n; i++)
		if (ir_load_f64(data, t, off + i) >
		    ir_load_f64(data, t, off + best))
			best = i;
	return best;
}

/* Accumulates one batch (B samples starting at s0) into f; err/ref hold
 * per-output max |diff| and max |reference|. */
static void
compare_batch(const ir_graph *g, void **ro, void **co, int64_t B, int64_t s0,
	      const int64_t *labels, pass_fidelity *f, double *err,
	      double *ref)
{
	for (int k = 0; k < g->noutputs; k++) {
		const ir_value *v = g->outputs[k];
		int64_t n = ir_shape_numel(&v->shape);
		for (int64_t i = 0; i < n; i++) {
			double r = ir_load_f64(ro[k], v->dtype, i);
			double c = ir_load_f64(co[k], v->dtype, i);
			double e = fabs(c - r);
			if (e > err[k] || isnan(e))
				err[k] = isnan(e) ? INFINITY : e;
			if (fabs(r) > ref[k])
				ref[k] = fabs(r);
		}
	}
	const ir_value *o = g->outputs[0];
	int64_t C = ir_shape_numel(&o->shape) / B;
	for (int64_t b = 0; b < B; b++) {
		int64_t rt = argmax(ro[0], o->dtype, b * C, C);
		int64_t ct = argmax(co[0], o->dtype, b * C, C);
		f->agree += rt == ct;
		if (labels) {
			f->ref_correct += rt == labels[s0 + b];
			f->correct += ct == labels[s0 + b];
		}
	}
}

static void
finish(pass_fidelity *f, const double *err, const double *ref, int nout,
       bool labels)
{
	for (int k = 0; k < nout; k++) {
		double rel = ref[k] > 0 ? err[k] / ref[k] : err[k];
		f->max_abs = err[k] > f->max_abs ? err[k] : f->max_abs;
		f->max_rel = rel > f->max_rel ? rel : f->max_rel;
	}
	f->top1_agree = (double)f->agree / (double)f->nsamples;
	f->accuracy = labels ? (double)f->correct / (double)f->nsamples : -1;
	f->ref_accuracy = labels ? (double)f->ref_correct /
				   (double)f->nsamples : -1;
}

bool
pass_measure_fidelity(ir_graph *reference, ir_graph *compressed,
		      const pass_data *x, pass_fidelity *out, nn_diag *d)
{
	memset(out, 0, sizeof *out);
	if (!check_pair(reference, compressed, x, d))
		return false;
	int64_t B = pass_data_batch(reference);
	int nout = reference->noutputs;
	void **ro = alloc_outputs(reference), **co = alloc_outputs(compressed);
	double *err = nn_xcalloc((size_t)nout, sizeof *err);
	double *ref = nn_xcalloc((size_t)nout, sizeof *ref);
	bool ok = true;
	out->nsamples = x->nsamples;
	for (int64_t s0 = 0; s0 < x->nsamples && ok; s0 += B) {
		nn_progress_detail("fidelity", "sample %lld of %lld (%s)",
				   (long long)s0 + 1, (long long)x->nsamples,
				   x->what ? x->what : "random inputs");
		ok = pass_data_run(reference, x, s0, ro, NULL, d) &&
		     pass_data_run(compressed, x, s0, co, NULL, d);
		if (ok)
			compare_batch(reference, ro, co, B, s0, x->labels, out,
				      err, ref);
	}
	if (ok)
		finish(out, err, ref, nout, x->labels != NULL);
	free_outputs(ro, nout);
	free_outputs(co, nout);
	free(err);
	free(ref);
	return ok;
}

pass_layer_stat *
pass_layer_stats(ir_graph *g, int *n)
{
	cmp_layer *L = cmp_weight_layers(g, n);
	pass_layer_stat *st = nn_xcalloc((size_t)(*n ? *n : 1), sizeof *st);
	for (int i = 0; i < *n; i++) {
		const ir_value *w = L[i].w;
		pass_layer_stat *s = &st[i];
		s->name = cmp_layer_name(&L[i]);
		s->op = ir_ops[L[i].n->op].name;
		s->params = ir_shape_numel(&w->shape);
		s->nnz = w->nnz;
		s->sparsity = s->params ? 1 - (double)s->nnz /
					  (double)s->params : 0;
		s->ncodes = w->ncodes;
		s->dense_bytes = s->params * 4;
		s->packed_bytes = w->ncodes ? (s->params *
					       ir_code_bits(w->ncodes) + 7) / 8 +
					      w->ncodes * 4 : s->dense_bytes;
	}
	free(L);
	return st;
}

static void
totals(ir_graph *g, int64_t *params, int64_t *nnz, int64_t *dense,
       int64_t *packed)
{
	int n;
	pass_layer_stat *st = pass_layer_stats(g, &n);
	*params = *nnz = *dense = *packed = 0;
	for (int i = 0; i < n; i++) {
		*params += st[i].params;
		*nnz += st[i].nnz;
		*dense += st[i].dense_bytes;
		*packed += st[i].packed_bytes;
	}
	free(st);
}

void
pass_print_fidelity(FILE *f, const pass_fidelity *r, const char *note)
{
	fprintf(f, "fidelity on %lld samples (%s): max abs err %.3g, max rel "
		"err %.3g, top-1 agreement %.4f (%lld/%lld)\n",
		(long long)r->nsamples, note, r->max_abs, r->max_rel,
		r->top1_agree, (long long)r->agree, (long long)r->nsamples);
	if (r->accuracy >= 0)
		fprintf(f, "accuracy: %.4f (%lld/%lld), uncompressed %.4f "
			"(%lld/%lld)\n", r->accuracy, (long long)r->correct,
			(long long)r->nsamples, r->ref_accuracy,
			(long long)r->ref_correct, (long long)r->nsamples);
}

void
pass_print_report(FILE *f, ir_graph *before, ir_graph *after,
		  const pass_fidelity *fid, const char *calib_note)
{
	int n, w = 5;
	pass_layer_stat *st = pass_layer_stats(after, &n);
	int64_t p0, z0, d0, k0, p1, z1, d1, k1;
	for (int i = 0; i < n; i++)
		if ((int)strlen(st[i].name) > w)
			w = (int)strlen(st[i].name);
	fprintf(f, "%-*s %-15s %10s %10s %9s %6s %12s %12s\n", w, "layer",
		"op", "params", "nnz", "sparsity", "codes", "dense-bytes",
		"packed-bytes");
	for (int i = 0; i < n; i++)
		fprintf(f, "%-*s %-15s %10lld %10lld %8.2f%% %6d %12lld "
			"%12lld\n", w, st[i].name, st[i].op,
			(long long)st[i].params, (long long)st[i].nnz,
			100 * st[i].sparsity, st[i].ncodes,
			(long long)st[i].dense_bytes,
			(long long)st[i].packed_bytes);
	free(st);
	totals(before, &p0, &z0, &d0, &k0);
	totals(after, &p1, &z1, &d1, &k1);
	fprintf(f, "weights before: %lld params, %lld non-zero, %lld bytes "
		"(f32)\n", (long long)p0, (long long)z0, (long long)k0);
	fprintf(f, "weights after:  %lld params, %lld non-zero, %lld bytes "
		"(f32), %lld with codebooks\n", (long long)p1, (long long)z1,
		(long long)d1, (long long)k1);
	if (fid)
		pass_print_fidelity(f, fid, calib_note);
}
