/* The seeded differential run of fuzz-compile (ctest fuzz.diff.compile):
 * graphs from fixed seeds through check_one, no libFuzzer needed; and
 * --check-ops, which fails when an op of ir/ops.def has no generator and
 * no recorded reason, or has one that never makes a node.
 *   fuzz-diff-compile [-n COUNT] [-s FIRST_SEED] [-v]
 *   fuzz-diff-compile --write SEED FILE   (the input of one seed, for
 *                                          the replayer and libFuzzer)
 *   fuzz-diff-compile --ir FILE.nnir [-O0..3|-Os] [--kernel K]
 *       [--nonfinite PCT] [--seed S] [--workspace]   (one graph: what
 *       a finding printed, checked again; regression tests use this)
 *   fuzz-diff-compile --check-ops */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fuzz.h"

#define INPUT_BYTES 1024

static void
seeded(uint64_t seed, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) { /* splitmix64 */
		uint64_t z = (seed += 0x9e3779b97f4a7c15u);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
}

static bool
skipped(ir_op op)
{
	for (int i = 0; i < gen_nskipped; i++)
		if (gen_skipped[i].op == op)
			return true;
	return false;
}

/* --ir: the check of one IR file under the options that follow. */
static int
check_ir(int argc, char **argv, int i)
{
	plan p;
	nn_diag d;
	const char *path = argv[i];
	plan_lossless(&p, 2, false);
	for (i++; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == 'O' && a[2] && !a[3])
			plan_lossless(&p, a[2] == 's' ? 2 : a[2] - '0',
				      a[2] == 's');
		else if (!strcmp(a, "--kernel") && i + 1 < argc)
			p.kernel = atoi(argv[++i]);
		else if (!strcmp(a, "--nonfinite") && i + 1 < argc)
			p.nonfinite = atoi(argv[++i]);
		else if (!strcmp(a, "--seed") && i + 1 < argc)
			p.seed = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--workspace"))
			p.workspace = true;
		else {
			fprintf(stderr, "fuzz-diff-compile: unknown option "
				"'%s'\n", a);
			return 2;
		}
	}
	nn_diag_init(&d, "fuzz-diff-compile", path);
	ir_graph *g = ir_parse_file(path, &d);
	if (!g || !ir_verify(g, &d))
		return 1;
	check_graph(g, &p, false);
	ir_graph_free(g);
	printf("fuzz-diff-compile: %s checked\n", path);
	return 0;
}

static int
check_ops(void)
{
	static int made[IR_NOPS];
	uint8_t buf[INPUT_BYTES];
	nn_diag d;
	int bad = 0;

	nn_diag_init(&d, "fuzz-diff-compile", "gen");
	d.out = fuzz_sink();
	for (int k = 0; k < IR_NOPS; k++)
		if (!gen_ops[k] && !skipped((ir_op)k)) {
			printf("op %s has no generator in test/fuzz/gen_ops.c "
			       "(and no reason in gen_skipped)\n",
			       ir_ops[k].name);
			bad++;
		}
	for (uint64_t s = 0; s < 3000; s++) {
		seeded(s, buf, sizeof buf);
		gen_src src = {buf, sizeof buf, 0};
		ir_graph *g = gen_graph(&src, 12, &d);
		if (!g)
			continue;
		for (ir_node *n = g->first; n; n = n->next)
			made[n->op]++;
		ir_graph_free(g);
	}
	for (int k = 0; k < IR_NOPS; k++)
		if (gen_ops[k] && !made[k]) {
			printf("the generator of %s never made a node in 3000 "
			       "graphs\n", ir_ops[k].name);
			bad++;
		}
	for (int i = 0; i < gen_nskipped; i++)
		printf("not generated: %s (%s)\n",
		       ir_ops[gen_skipped[i].op].name, gen_skipped[i].why);
	printf("fuzz-diff-compile: %d ops, %d problems\n", IR_NOPS, bad);
	return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	long count = 300;
	uint64_t first = 1;
	bool verbose = false;
	uint8_t buf[INPUT_BYTES];
	int checked = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check-ops"))
			return check_ops();
		if (!strcmp(argv[i], "--ir") && i + 1 < argc)
			return check_ir(argc, argv, i + 1);
		if (!strcmp(argv[i], "--write") && i + 2 < argc) {
			FILE *f = fopen(argv[i + 2], "wb");
			seeded(strtoull(argv[i + 1], NULL, 10), buf, sizeof buf);
			if (!f || fwrite(buf, 1, sizeof buf, f) != sizeof buf ||
			    fclose(f)) {
				perror(argv[i + 2]);
				return 1;
			}
			return 0;
		}
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else {
			fprintf(stderr, "usage: fuzz-diff-compile [-n COUNT] "
				"[-s SEED] [-v] | --write SEED FILE | "
				"--check-ops\n");
			return 2;
		}
	}
	for (long i = 0; i < count; i++) {
		seeded(first + (uint64_t)i, buf, sizeof buf);
		gen_src s = {buf, sizeof buf, 0};
		if (verbose)
			fprintf(stderr, "== seed %llu\n",
				(unsigned long long)(first + (uint64_t)i));
		checked += check_one(&s, verbose);
	}
	printf("fuzz-diff-compile: %d graphs checked (seeds %llu..%llu)\n",
	       checked, (unsigned long long)first,
	       (unsigned long long)(first + (uint64_t)count - 1));
	return 0;
}
