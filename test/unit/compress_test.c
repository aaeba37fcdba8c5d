/* Unit tests of the compression internals: 1-D k-means (determinism,
 * convergence on an easy mixture, degenerate inputs) and the prune rules
 * parser (fields, first match wins, errors with file:line:col). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "unit.h"

/* n points around each of the given centres, +-0.01, shuffled. */
static float *
mixture(const float *centre, int k, int per, uint64_t seed)
{
	float *x = malloc(sizeof *x * (size_t)(k * per));
	cmp_rng r = { seed };
	for (int i = 0; i < k * per; i++)
		x[i] = centre[i % k] + (float)(0.02 * cmp_rng_unif(&r) - 0.01);
	return x;
}

static void
test_kmeans_mixture(void)
{
	static const float centre[4] = { -2.0f, -0.5f, 0.75f, 3.0f };
	float *x = mixture(centre, 4, 250, 5), c[4], c2[4];
	int it = 0;
	int m = cmp_kmeans_1d(x, 1000, 4, 1, 100, c, &it);
	CHECK(m == 4);
	/* ascending, each near its true centre (the mixture's spread is
	 * 0.01, so a right clustering lands within it) */
	for (int j = 0; j < m && m == 4; j++)
		CHECK(fabsf(c[j] - centre[j]) < 0.011f);
	CHECK(it >= 1 && it < 100); /* converged, not capped */
	/* same seed, same answer; another seed reaches the same optimum */
	CHECK(cmp_kmeans_1d(x, 1000, 4, 1, 100, c2, NULL) == 4);
	CHECK(memcmp(c, c2, sizeof c) == 0);
	CHECK(cmp_kmeans_1d(x, 1000, 4, 99, 100, c2, NULL) == 4);
	for (int j = 0; j < 4; j++)
		CHECK(fabsf(c2[j] - c[j]) < 1e-5f);
	free(x);
}

static void
test_kmeans_degenerate(void)
{
	float x[6] = { 1, 1, 1, 2, 2, 2 }, c[8];
	/* fewer distinct values than k: one centroid per value */
	CHECK(cmp_kmeans_1d(x, 6, 8, 3, 50, c, NULL) == 2);
	CHECK(c[0] == 1 && c[1] == 2);
	/* k = 1: the mean */
	CHECK(cmp_kmeans_1d(x, 6, 1, 3, 50, c, NULL) == 1);
	CHECK(fabsf(c[0] - 1.5f) < 1e-6f);
	CHECK(cmp_kmeans_1d(x, 0, 4, 3, 50, c, NULL) == 0);
	/* the 1-D optimum of {0, 1, 9, 10} with k=2 is {0.5, 9.5} */
	float y[4] = { 10, 0, 9, 1 };
	CHECK(cmp_kmeans_1d(y, 4, 2, 7, 50, c, NULL) == 2);
	CHECK(c[0] == 0.5f && c[1] == 9.5f);
}

static void
test_rules(void)
{
	cmp_spec dflt = { CMP_MAGNITUDE, 0.5, 2, 4, 1, 8, 1 };
	nn_diag d;
	nn_diag_init(&d, "compress_test", "model.onnx");
	d.out = fopen("/dev/null", "w");
	const char *text = "# comment\n\nconv1 dense\n"
			   "fc* 0.8 magnitude  # why\n"
			   "layer? block=4x2 block sparsity=0.7 seed=9\n"
			   "* nm n=1 m=8\n";
	cmp_rules *r = cmp_rules_parse(text, "r.txt", &dflt, &d);
	CHECK(r && r->n == 4 && d.nerrors == 0);
	if (r && r->n == 4) {
		const cmp_rule *m = cmp_rules_match(r, "conv1");
		CHECK(m && m->spec.method == CMP_DENSE && m->line == 3);
		m = cmp_rules_match(r, "fc2");
		CHECK(m && m->spec.method == CMP_MAGNITUDE &&
		      m->spec.sparsity == 0.8);
		m = cmp_rules_match(r, "layer7");
		CHECK(m && m->spec.method == CMP_BLOCK && m->spec.br == 4 &&
		      m->spec.bc == 2 && m->spec.sparsity == 0.7 &&
		      m->spec.seed == 9);
		/* first match wins: conv1 is not the catch-all's */
		m = cmp_rules_match(r, "conv2");
		CHECK(m && m->spec.method == CMP_NM && m->spec.n == 1 &&
		      m->spec.m == 8 && m->spec.sparsity == 0.5);
	}
	cmp_rules_free(r);
	CHECK(cmp_rules_match(NULL, "x") == NULL);
	/* errors */
	CHECK(!cmp_rules_parse("a 0.5\nb fast\n", "r.txt", &dflt, &d));
	CHECK(d.nerrors == 1);
	CHECK(!cmp_rules_parse("a\n", "r.txt", &dflt, &d));
	CHECK(!cmp_rules_parse("a nm n=3 m=2\n", "r.txt", &dflt, &d));
	CHECK(!cmp_rules_parse("a block=0x2\n", "r.txt", &dflt, &d));
	CHECK(!cmp_rules_parse("a -0.1\n", "r.txt", &dflt, &d));
	CHECK(d.nerrors == 5);
	fclose(d.out);
}

static void
test_block_and_rng(void)
{
	int r = 0, c = 0;
	CHECK(cmp_parse_block("4x8", &r, &c) && r == 4 && c == 8);
	CHECK(!cmp_parse_block("4", &r, &c));
	CHECK(!cmp_parse_block("0x8", &r, &c));
	CHECK(!cmp_parse_block("4x8x", &r, &c));
	/* splitmix64 as in docs/ir.md: random(seed=42) starts 0.48312977 */
	cmp_rng g = { 42 };
	CHECK(fabs(-1 + 2 * cmp_rng_unif(&g) - 0.48312977) < 1e-7);
}

static ir_graph *
parse(const char *text, nn_diag *d)
{
	ir_graph *g = ir_parse(text, strlen(text), d);
	if (g && !ir_verify(g, d)) {
		ir_graph_free(g);
		return NULL;
	}
	return g;
}

/* Fidelity of y = x W against y' = x W': with W' = W except one weight
 * raised by 0.5, the error is 0.5 * |x| at that output, and the top-1
 * class changes exactly where the raise overtakes the winner. */
static void
test_fidelity(void)
{
	nn_diag d;
	nn_diag_init(&d, "compress_test", NULL);
	ir_graph *a = parse("graph @a(%x: f32[2,2]) -> (f32[2,2]) {\n"
			    "  %w = const f32[2,2] [1, 0, 0, 1]\n"
			    "  %0 = MatMul(%x, %w) : f32[2,2]\n"
			    "  return %0\n}\n", &d);
	ir_graph *b = parse("graph @b(%x: f32[2,2]) -> (f32[2,2]) {\n"
			    "  %w = const f32[2,2] [1, 0.5, 0, 1]\n"
			    "  %0 = MatMul(%x, %w) : f32[2,2]\n"
			    "  return %0\n}\n", &d);
	CHECK(a && b);
	if (!a || !b)
		return;
	/* 4 samples (2 batches): rows of x; y = x, y' = (x0, x1 + x0/2) */
	float x[8] = { 1, 0.2f, 1, 0.8f, 0, 1, 2, 1 };
	int64_t labels[4] = { 0, 1, 1, 0 };
	const void *xs[1] = { x };
	ir_dtype dt[1] = { IR_F32 };
	ir_shape sh[1] = { { 2, { 4, 2 } } };
	pass_data data = { 1, xs, 4, dt, sh, labels, "test", NULL, NULL };
	pass_fidelity f;
	CHECK(pass_measure_fidelity(a, b, &data, &f, &d));
	CHECK(f.nsamples == 4);
	CHECK(fabs(f.max_abs - 1.0) < 1e-6);       /* sample 3: 2 / 2 */
	CHECK(fabs(f.max_rel - 0.5) < 1e-6);       /* 1 / max |y| = 2 */
	CHECK(f.agree == 3 && f.top1_agree == 0.75); /* sample 1 flips */
	CHECK(f.ref_correct == 3 && f.correct == 4); /* the flip fixes s1 */
	CHECK(f.accuracy == 1 && f.ref_accuracy == 0.75);
	data.labels = NULL;
	CHECK(pass_measure_fidelity(a, a, &data, &f, &d));
	CHECK(f.max_abs == 0 && f.agree == 4 && f.accuracy == -1);
	int before = d.nerrors;
	d.out = fopen("/dev/null", "w");
	data.nsamples = 3; /* not a whole number of batches */
	sh[0].dim[0] = 3;
	CHECK(!pass_measure_fidelity(a, b, &data, &f, &d));
	CHECK(d.nerrors == before + 1);
	fclose(d.out);
	int n;
	pass_layer_stat *st = pass_layer_stats(b, &n);
	CHECK(n == 1 && st[0].params == 4 && st[0].nnz == 3 &&
	      st[0].sparsity == 0.25 && st[0].dense_bytes == 16 &&
	      st[0].packed_bytes == 16);
	free(st);
	ir_graph_free(a);
	ir_graph_free(b);
}

int
main(void)
{
	test_fidelity();
	test_kmeans_mixture();
	test_kmeans_degenerate();
	test_rules();
	test_block_and_rng();
	return unit_report();
}
