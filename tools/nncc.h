/* The nncc driver's own pieces: its arguments (nncc.c) and the
 * compression side (nncc_compress.c: the lossy flags, calibration data,
 * the pipeline they make, what compression cost and --report). */
#ifndef NNCC_TOOLS_NNCC_H
#define NNCC_TOOLS_NNCC_H

#include "codegen.h"
#include "cli.h"
#include "frontend.h"
#include "passes.h"

#define TOOL "nncc"
#define NNCC_MAX_DATA 16 /* --calib / --eval files: one per graph input */

typedef struct args {
	const char *model, *out, *name, *header, *emit_ir, *cpu, *triple;
	const char *emit_onnx; /* --emit-onnx: the graph as plain ONNX */
	const char *emit_dot;  /* --emit-dot: the graph as Graphviz DOT */
	int opt;          /* 0..3 */
	bool size, asm_out, emit_llvm;
	bool verbose;     /* -v: phases and their times */
	bool no_static_arena;        /* --no-static-arena */
	const char *weights_section; /* --weights-section NAME */
	int argc;         /* the command line, for the provenance */
	char **argv;
	pass_run_opts run;
	fe_input_shape *shapes;
	int nshapes;
	fe_input_value *values; /* --input-value */
	int nvalues;
	/* compression (docs/compression.md); prune_spec is the pass text */
	char prune_spec[256];
	const char *prune, *prune_rules, *labels;
	const char *calib[NNCC_MAX_DATA], *eval[NNCC_MAX_DATA];
	int ncalib, neval;
	bool no_refit;    /* --no-refit */
	bool slim;        /* --slim: remove layers and blocks (--tolerance) */
	const char *select; /* --select-features: K or "auto"; NULL: none */
	int prune_steps;  /* --prune-steps; 0: nncc_choose_prune_steps */
	double distill;   /* --distill temperature; 0: none */
	int share;        /* 0: no sharing */
	bool share_global; /* one codebook across layers */
	double tolerance; /* < 0: none */
	bool report;      /* --report: the text report */
	const char *report_json, *report_svg; /* --report=json|svg FILE */
	int progress;     /* --progress 1, --no-progress 0, else -1: on a
			   * terminal */
	int kernel;       /* --sparse-kernel: a cg_kernel, 0 = cost model */
	bool prune_auto;  /* --prune=auto: the pass prune-auto */
	const char *emit_rules; /* --emit-rules: its choices as rules */
} args;

/* The --report figures, made once (nncc_account) and rendered as text,
 * JSON (nncc_json.c) or SVG (nncc_svg.c). */
typedef struct nncc_report_layer {
	char name[512];     /* "NODE", or "NODE:W" for a recurrent weight */
	const char *op;     /* static (the op table's) */
	char method[96];    /* "global", "nm2:4+share16", "-" */
	int64_t params;     /* weights in the uncompressed model */
	int64_t nnz;        /* non-zeros in the object */
	double sparsity;    /* 1 - nnz / params: pruned or removed */
	int ncodes;         /* shared values (codebook size), 0: none */
	int64_t bytes;      /* what the chosen kernel stores in the object */
	const char *kernel; /* cg_kernel_name of the kernel emitted */
} nncc_report_layer;
typedef struct nncc_report {
	int nlayers;
	nncc_report_layer *layer;  /* malloc'd */
	int64_t before;            /* weight bytes, dense f32, uncompressed */
	int64_t after;             /* weight bytes the object's kernels hold */
	bool measured;             /* fidelity was measured: fid, note */
	pass_fidelity fid;
	char note[512];            /* what fidelity was measured on */
	const pass_env *env;       /* the passes' records, or NULL */
	cg_sizes sizes;            /* the object's sections (-1: unknown) */
	int64_t object_bytes;      /* the object file's size, -1: none */
} nncc_report;

/* nncc.c */
int nncc_err(const char *fmt, const char *a); /* prints, returns 1 */
cg_output nncc_output_kind(const args *a);

/* nncc_compress.c */
/* The compression flags at argv[*i]: 1 handled, 0 not one, -1 error. */
int nncc_parse_compression(args *a, int argc, char **argv, int *i);
/* Checks the compression flags together; 0 or 1 after an error. */
int nncc_check_compression(args *a);
bool nncc_lossy(const args *a);
/* Sets a->prune_steps (if 0) for a pruning build with refit: from the
 * model's weight count. */
void nncc_choose_prune_steps(args *a, nn_diag *d);
/* The pipeline when compressing: the head of ospec, the lossy passes,
 * then the rest of ospec. */
void nncc_lossy_spec(const args *a, const char *ospec, char *buf, size_t n);
/* The data-driven passes' environment: --calib, --eval and --labels
 * loaded (NULL after an error); free with cli_env_free. */
pass_env *nncc_env_new(const args *a, nn_diag *d);
/* --report (stdout, or stderr when the object goes to stdout), or the
 * one-line cost of the lossy passes; then --tolerance. ref is the
 * uncompressed optimized graph, g the compressed one. */
/* nncc_dot.c: g (after the passes) as Graphviz DOT, the weight layers
 * with the kernels code generation under o gives them. */
bool nncc_write_dot(const char *path, ir_graph *g, const cg_options *o,
		    nn_diag *d);
/* The code generation options of a (name: the symbol prefix). */
cg_options nncc_cg_options(const args *a, const char *name);
void nncc_report_free(nncc_report *r);
/* Where the text report goes: stdout, or stderr when an output is. */
FILE *nncc_report_stream(const args *a);
/* Builds *r (free with nncc_report_free) and prints the text report to
 * stdout (stderr when an output is stdout) with --report. */
bool nncc_account(const args *a, pass_env *e, ir_graph *ref, ir_graph *g,
		  const char *name, nncc_report *r, nn_diag *d);

/* nncc_json.c: --report=json, the schema of docs/report-json.md. */
bool nncc_write_report_json(const char *path, const args *a,
			    const nncc_report *r, nn_diag *d);
/* The length of the valid UTF-8 sequence at s (1 for ASCII), or 0 (an
 * invalid byte, which both writers replace by U+FFFD). */
int nncc_utf8_len(const unsigned char *s);
/* nncc_svg.c: --report=svg, per-layer charts and accuracy against size. */
bool nncc_write_report_svg(const char *path, const args *a,
			   const nncc_report *r, nn_diag *d);

#endif
