/* fuzz-compile's check of one graph: passes (verified after each), the
 * object run in process against the interpreter, --emit-onnx round trip,
 * header and report writers. A finding prints what it saw and aborts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "codegen.h"
#include "frontend.h"
#include "fuzz.h"
#include "nnrt.h"
#include "passes.h"

#define MAX_NODES 12

static const char *g_tmp; /* the process's scratch folder */
static char g_dir[64];

static void
rm_tmp(void)
{
	static const char *const f[] = {"m.o", "m.onnx", "m.h"};
	char p[128];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", g_dir, f[i]);
		unlink(p);
	}
	rmdir(g_dir);
}

static const char *
tmp_path(const char *file)
{
	static char p[3][128];
	static int k;
	if (!g_tmp) {
		const char *t = getenv("TMPDIR");
		snprintf(g_dir, sizeof g_dir, "%s/nncc-fuzz-XXXXXX",
			 t && *t ? t : "/tmp");
		if (!mkdtemp(g_dir)) {
			perror("fuzz-compile: mkdtemp");
			abort();
		}
		g_tmp = g_dir;
		atexit(rm_tmp);
	}
	k = (k + 1) % 3;
	snprintf(p[k], sizeof p[k], "%s/%s", g_tmp, file);
	return p[k];
}

static ir_graph *g_show; /* printed with a finding */
static const plan *g_plan;
static const void *const *g_inputs; /* of g_show, for NNCC_FUZZ_DUMP */

/* NNCC_FUZZ_DUMP=DIR: a finding also writes DIR/graph.nnir and the
 * inputs DIR/in0.npy ..., to replay with nncc-run and nncc. */
static void
dump(void)
{
	const char *dir = getenv("NNCC_FUZZ_DUMP");
	char p[512], err[128];
	if (!dir || !g_show)
		return;
	snprintf(p, sizeof p, "%s/graph.nnir", dir);
	FILE *f = fopen(p, "w");
	if (f) {
		ir_print(f, g_show, &(ir_print_opts){true});
		fclose(f);
	}
	for (int i = 0; g_inputs && i < g_show->ninputs; i++) {
		const ir_value *v = g_show->inputs[i];
		nnrt_array a = {v->dtype, v->shape.rank, {0},
				(void *)g_inputs[i], (size_t)ir_shape_numel(
				&v->shape) * ir_dtype_size(v->dtype)};
		memcpy(a.dim, v->shape.dim, sizeof a.dim);
		snprintf(p, sizeof p, "%s/in%d.npy", dir, i);
		nnrt_npy_write(p, &a, err, sizeof err);
	}
}

_Noreturn static void
finding(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "fuzz-compile: FINDING: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\nfuzz-compile: pipeline -O%c '%s' kernel %d, "
		"%d%% NaN/Inf inputs\n", g_plan->size ? 's' : '0' +
		g_plan->level, g_plan->spec, g_plan->kernel,
		g_plan->nonfinite);
	if (g_show)
		ir_print(stderr, g_show, &(ir_print_opts){true});
	dump();
	abort();
}

void
plan_lossless(plan *p, int level, bool size)
{
	memset(p, 0, sizeof *p);
	p->level = level;
	p->size = size;
	snprintf(p->spec, sizeof p->spec, "%s", pass_pipeline_for_level(level,
		 size));
}

static void
choose_plan(gen_src *s, plan *p)
{
	static const char *const methods[] = {"magnitude", "global", "random",
		"l1", "l2", "nm,n=2,m=4", "block,block=1x4", "dense"};
	static const double sp[] = {0.3, 0.5, 0.75, 0.9};
	static const int ks[] = {2, 4, 16, 256};
	int lv = gen_int(s, 0, 4);
	const char *ospec;
	size_t k = 0;

	memset(p, 0, sizeof *p);
	p->level = lv == 4 ? 2 : lv;
	p->size = lv == 4;
	p->prune = gen_chance(s, 20);
	p->share = gen_chance(s, 15);
	p->refit = (p->prune || p->share) && gen_chance(s, 50);
	p->workspace = gen_chance(s, 50);
	p->kernel = gen_chance(s, 25) ? gen_int(s, 1, 3) : 0;
	p->nonfinite = gen_chance(s, 25) ? gen_int(s, 1, 20) : 0;
	p->seed = (uint32_t)gen_byte(s) << 8 | gen_byte(s);
	ospec = pass_pipeline_for_level(p->level, p->size);
	if (!p->prune && !p->share) {
		snprintf(p->spec, sizeof p->spec, "%s", ospec);
		return;
	}
	/* the driver's lossy pipeline (tools/nncc_compress.c) */
	k += (size_t)snprintf(p->spec + k, sizeof p->spec - k,
			      "const-fold,eliminate-layers,");
	if (p->prune)
		k += (size_t)snprintf(p->spec + k, sizeof p->spec - k,
			"prune{sparsity=%g,method=%s},%s",
			sp[gen_byte(s) % 4], methods[gen_byte(s) % 8],
			p->refit ? "refit," : "");
	if (p->share)
		k += (size_t)snprintf(p->spec + k, sizeof p->spec - k,
			"share-weights{k=%d,scope=%s},%s",
			ks[gen_byte(s) % 4], gen_chance(s, 30) ? "global"
			: "layer", p->refit ? "refit," : "");
	snprintf(p->spec + k, sizeof p->spec - k, "%s", *ospec ? ospec +
		 strlen("const-fold,eliminate-layers,") : "dead-neurons,dce");
}

/* A buffer whose last byte is followed by an inaccessible page, so the
 * object writing or reading past its end faults (the object is not
 * instrumented by ASan). */
typedef struct gbuf {
	void *base, *p;
	size_t len, maplen;
} gbuf;

static void
gbuf_new(gbuf *b, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (len + pg - 1) / pg * pg;
	b->maplen = body + pg;
	b->base = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->base == MAP_FAILED) {
		perror("fuzz-compile: mmap");
		abort();
	}
	mprotect((char *)b->base + body, pg, PROT_NONE);
	b->p = (char *)b->base + body - len;
	b->len = len;
}

static void
gbuf_free(gbuf *b)
{
	if (b->base)
		munmap(b->base, b->maplen);
	memset(b, 0, sizeof *b);
}

static size_t
nbytes(const ir_value *v)
{
	return (size_t)ir_shape_numel(&v->shape) * ir_dtype_size(v->dtype);
}

static uint32_t
rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
fill_input(const ir_value *v, void *p, const plan *pl, uint32_t *s)
{
	int64_t n = ir_shape_numel(&v->shape);
	for (int64_t i = 0; i < n; i++) {
		uint32_t r = rng(s);
		double x = (double)(r >> 8) / 8388608.0 - 1.0;
		if (!ir_dtype_is_float(v->dtype))
			x = round(x * 3);
		else if ((int)(rng(s) % 100) < pl->nonfinite)
			x = r % 3 == 0 ? NAN : r % 3 == 1 ? INFINITY : -INFINITY;
		ir_store_f64(p, v->dtype, i, x);
	}
}

/* Whether g has a weight layer with an exactly zero weight: where the
 * README's one exception lets the object give a number for NaN. */
static bool
has_zero_weight(const ir_graph *g)
{
	for (const ir_node *n = g->first; n; n = n->next) {
		ir_kind k = ir_ops[n->op].kind;
		if ((k == IR_KIND_CONV || k == IR_KIND_GEMM ||
		     k == IR_KIND_FUSED) && n->nin > 1 && n->in[1] &&
		    ir_is_const(n->in[1]) &&
		    n->in[1]->nnz < ir_shape_numel(&n->in[1]->shape))
			return true;
	}
	return false;
}

/* Compares outputs elementwise; reassociated float sums get a tolerance
 * relative to the output's scale. */
static void
compare(const char *what, const ir_graph *g, void *const *ref,
	void *const *got, bool sparse_nan)
{
	for (int o = 0; o < g->noutputs; o++) {
		const ir_value *v = g->outputs[o];
		int64_t n = ir_shape_numel(&v->shape);
		double scale = 1;
		bool fl = ir_dtype_is_float(v->dtype);
		double rtol = v->dtype == IR_F16 ? 4e-3 : v->dtype == IR_BF16
			      ? 3e-2 : 2e-3;
		for (int64_t i = 0; fl && i < n; i++) {
			double r = fabs(ir_load_f64(ref[o], v->dtype, i));
			if (isfinite(r) && r > scale)
				scale = r;
		}
		for (int64_t i = 0; i < n; i++) {
			double r = ir_load_f64(ref[o], v->dtype, i);
			double x = ir_load_f64(got[o], v->dtype, i);
			bool ok;
			if (!fl)
				ok = ir_load_i64(ref[o], v->dtype, i) ==
				     ir_load_i64(got[o], v->dtype, i);
			else if (!isfinite(r))
				ok = (isnan(r) && isnan(x)) || r == x ||
				     sparse_nan;
			else
				ok = isfinite(x) && fabs(x - r) <=
					1e-4 * scale + rtol * fabs(r);
			if (!ok) {
				char m[160];
				snprintf(m, sizeof m, "output %d (%s) element "
					 "%lld: expected %.9g, got %.9g", o,
					 ir_value_label(v), (long long)i, r, x);
				finding("%s: %s", what, m);
			}
		}
	}
}

typedef int (*run_fn)(const void *const *, void *const *);
typedef int (*run_ws_fn)(const void *const *, void *const *, void *);
typedef size_t (*ws_fn)(void);

static void *
xread(const char *path, size_t *len)
{
	const char *why;
	void *p = nn_in_read(path, len, &why);
	if (!p)
		finding("cannot read back %s: %s", path, why);
	return p;
}

/* Compiles g, runs the object on in, compares with ref (or, when the
 * interpreter refused the inputs, expects a non-zero status). */
static void
run_object(ir_graph *g, const plan *p, const void *const *in,
	   void *const *ref, bool ref_ok, nn_diag *d)
{
	cg_options o = {.name = "fz", .opt_level = p->level,
			.size_level = p->size, .output = CG_OUT_OBJ,
			.force_kernel = p->kernel};
	const char *path = tmp_path("m.o");
	char *msg = NULL;
	size_t msglen = 0;
	FILE *saved = d->out, *mem = open_memstream(&msg, &msglen);
	d->out = mem ? mem : saved;
	bool built = cg_compile(g, &o, path, d);
	d->out = saved;
	if (mem)
		fclose(mem);
	/* a clear "not supported" is a documented limit of code generation
	 * (the interpreter runs more than the object compiles) */
	if (!built && (!msg || !strstr(msg, "not supported")))
		finding("cg_compile failed: %s%s", msg ? msg : "", "");
	free(msg);
	if (!built)
		return;
	size_t len;
	void *obj = xread(path, &len);
	cg_jit *j = cg_jit_load(obj, len, d);
	free(obj);
	if (!j)
		finding("the object does not load%s%s", "", "");
	run_fn run = (run_fn)cg_jit_symbol(j, "fz_run", d);
	run_ws_fn run_ws = (run_ws_fn)cg_jit_symbol(j,
		"fz_run_with_workspace", d);
	ws_fn wsz = (ws_fn)cg_jit_symbol(j, "fz_workspace_size", d);
	if (!run || !run_ws || !wsz)
		finding("the object lacks its run functions%s%s", "", "");

	gbuf ib[8], ob[8], ws = {0};
	const void *ip[8];
	void *op[8];
	for (int i = 0; i < g->ninputs; i++) {
		gbuf_new(&ib[i], nbytes(g->inputs[i]));
		memcpy(ib[i].p, in[i], ib[i].len);
		mprotect(ib[i].base, ib[i].maplen, PROT_READ); /* no writes */
		ip[i] = ib[i].p;
	}
	for (int i = 0; i < g->noutputs; i++) {
		gbuf_new(&ob[i], nbytes(g->outputs[i]));
		memset(ob[i].p, 0xA5, ob[i].len); /* unwritten shows */
		op[i] = ob[i].p;
	}
	int st;
	if (p->workspace) {
		gbuf_new(&ws, wsz());
		memset(ws.p, 0x5A, ws.len);
		st = run_ws(ip, op, ws.p);
	} else {
		st = run(ip, op);
	}
	if (ref_ok && st != 0)
		finding("the object returned status %s%s",
			st == 1 ? "1" : "non-zero", "");
	if (!ref_ok && st == 0)
		finding("the interpreter refused the inputs, the object "
			"returned 0%s%s", "", "");
	if (ref_ok)
		compare("object vs interpreter", g, ref, op,
			has_zero_weight(g));
	for (int i = 0; i < g->ninputs; i++)
		gbuf_free(&ib[i]);
	for (int i = 0; i < g->noutputs; i++)
		gbuf_free(&ob[i]);
	gbuf_free(&ws);
	cg_jit_free(j);
}

static void **
alloc_outputs(const ir_graph *g)
{
	void **o = nn_xcalloc((size_t)g->noutputs + 1, sizeof *o);
	for (int i = 0; i < g->noutputs; i++)
		o[i] = nn_xcalloc(nbytes(g->outputs[i]) + 1, 1);
	return o;
}

static void
free_list(void **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* --emit-onnx: the exported model, imported again, must interpret to
 * what g does. */
static void
onnx_round_trip(ir_graph *g, const void *const *in, void *const *ref,
		nn_diag *d)
{
	const char *path = tmp_path("m.onnx");
	if (!fe_export_onnx(g, path, d))
		finding("--emit-onnx failed%s%s", "", "");
	size_t len;
	void *buf = xread(path, &len);
	ir_graph *back = fe_import_onnx_buffer(buf, len, "m.onnx",
					       &(fe_options){0}, d);
	free(buf);
	if (!back)
		finding("the exported ONNX does not import%s%s", "", "");
	if (back->ninputs != g->ninputs || back->noutputs != g->noutputs)
		finding("the exported ONNX has other inputs/outputs%s%s", "",
			"");
	for (int i = 0; i < g->noutputs; i++)
		if (!ir_shape_eq(&back->outputs[i]->shape,
				 &g->outputs[i]->shape) ||
		    back->outputs[i]->dtype != g->outputs[i]->dtype)
			finding("exported output %s has another type%s",
				ir_value_label(g->outputs[i]), "");
	void **out = alloc_outputs(back);
	if (!ir_run(back, in, out, d))
		finding("the re-imported model does not run%s%s", "", "");
	compare("--emit-onnx re-import vs the graph", g, ref, out, false);
	free_list(out, back->noutputs);
	ir_graph_free(back);
}

/* The header and --report writers on the compiled graph. */
static void
writers(ir_graph *orig, ir_graph *g, nn_diag *d)
{
	if (!cg_write_header(g, &(cg_options){.name = "fz"}, tmp_path("m.h"),
			     d))
		finding("the header writer failed%s%s", "", "");
	pass_fidelity fid;
	pass_data x;
	pass_data_random(orig, pass_data_batch(orig) * 2, 1, &x);
	if (pass_data_check(orig, &x, d) &&
	    pass_measure_fidelity(orig, g, &x, &fid, d))
		pass_print_report(fuzz_sink(), orig, g, &fid, "fuzz");
	else
		pass_print_report(fuzz_sink(), orig, g, NULL, "fuzz");
	pass_data_free(&x);
}

/* The passes of p on a copy of g, verified after each; NULL if a lossy
 * pass refused the graph (a reported user-level limit, not a finding). */
static ir_graph *
optimize(ir_graph *g, const plan *p, nn_diag *d)
{
	ir_graph *o = ir_graph_clone(g);
	pass_env *env = NULL;
	pass_pipeline *pl = pass_pipeline_parse(p->spec, d);
	if (!pl)
		finding("pipeline '%s' does not parse%s", p->spec, "");
	if (p->refit) {
		env = pass_env_new();
		pass_data_random(g, pass_data_batch(g) * 4, p->seed,
				 &env->calib);
	}
	pass_run_opts ro = {.verify_each = true, .env = env};
	bool ok = pass_pipeline_run(pl, o, &ro, d);
	if (ok && !ir_verify(o, d))
		finding("the optimized graph does not verify%s%s", "", "");
	pass_pipeline_free(pl);
	if (env) {
		pass_data_free(&env->calib);
		pass_env_free(env);
	}
	if (!ok && !p->prune && !p->share)
		finding("lossless pipeline '%s' failed%s", p->spec, "");
	if (!ok) {
		ir_graph_free(o);
		return NULL;
	}
	return o;
}

bool
check_one(gen_src *s, bool verbose)
{
	nn_diag d;
	plan p;
	nn_diag_init(&d, "fuzz-compile", "fuzz");
	d.out = fuzz_sink();
	choose_plan(s, &p);
	ir_graph *g = gen_graph(s, MAX_NODES, &d);
	if (!g)
		return false;
	check_graph(g, &p, verbose);
	ir_graph_free(g);
	return true;
}

void
check_graph(ir_graph *g, const plan *pp, bool verbose)
{
	nn_diag d;
	plan p = *pp;
	nn_diag_init(&d, "fuzz-compile", "fuzz");
	d.out = fuzz_sink();
	g_plan = &p;
	g_show = g;
	if (!ir_infer_shapes(g, &d) || !ir_verify(g, &d))
		finding("the generated graph does not verify%s%s", "", "");
	if (verbose) {
		fprintf(stderr, "pipeline -O%c '%s'\n", p.size ? 's'
			: '0' + p.level, p.spec);
		ir_print(stderr, g, &(ir_print_opts){true});
	}
	void **in = nn_xcalloc((size_t)g->ninputs + 1, sizeof *in);
	uint32_t seed = p.seed | 1;
	for (int i = 0; i < g->ninputs; i++) {
		in[i] = nn_xcalloc(nbytes(g->inputs[i]) + 1, 1);
		fill_input(g->inputs[i], in[i], &p, &seed);
	}
	g_inputs = (const void *const *)in;
	void **ref0 = alloc_outputs(g);
	bool ok0 = ir_run(g, (const void *const *)in, ref0, &d);
	ir_graph *o = optimize(g, &p, &d);
	if (o) {
		g_show = o;
		void **ref = alloc_outputs(o);
		bool ok = ir_run(o, (const void *const *)in, ref, &d);
		bool lossy = p.prune || p.share;
		/* (the other way round is fine: a refused node was dead) */
		if (ok0 && !ok && !lossy)
			finding("the interpreter %s the original and %s the "
				"optimized graph", "runs", "refuses");
		if (ok && ok0 && !lossy && !p.nonfinite)
			compare("optimized vs original graph", g, ref0, ref,
				has_zero_weight(g));
		run_object(o, &p, (const void *const *)in, ref, ok, &d);
		if (ok)
			onnx_round_trip(o, (const void *const *)in, ref, &d);
		writers(g, o, &d);
		free_list(ref, o->noutputs);
		ir_graph_free(o);
	}
	free_list(ref0, g->noutputs);
	free_list(in, g->ninputs);
	g_show = NULL;
	g_inputs = NULL;
}
