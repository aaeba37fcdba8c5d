/* Command-line pieces the nncc tools share: option values and
 * --input-shape bindings, with the same messages in every tool. */
#ifndef NNCC_TOOLS_CLI_H
#define NNCC_TOOLS_CLI_H

#include "frontend.h"
#include "nnrt.h"
#include "passes.h"

/* cli.c */
/* The value of "--name=V" or "--name V" at argv[*i] (advancing *i past a
 * separate value); NULL if argv[*i] is another option. A missing value is
 * reported as "TOOL: error: NAME needs a value" and sets *bad. */
const char *cli_value(const char *tool, int argc, char **argv, int *i,
		      const char *name, bool *bad);
/* Appends the binding "NAME=1x3x8x8" to *shapes (grown with realloc; the
 * caller frees it); false after reporting a malformed one. */
bool cli_add_input_shape(const char *tool, fe_input_shape **shapes, int *n,
			 const char *arg);
/* Appends --input-value "NAME=SCALAR" or "NAME=FILE.npy" (the last '='
 * splits; a value ending in .npy is read now) to *vals (grown with
 * realloc); false after reporting a malformed one or a file that cannot
 * be read. Free the list with cli_free_input_values. */
bool cli_add_input_value(const char *tool, fe_input_value **vals, int *n,
			 const char *arg);
void cli_free_input_values(fe_input_value *vals, int n);
/* Appends v to the repeatable file flag's list (at most max); 1, or -1
 * after "TOOL: error: FLAG: more than MAX files". */
int cli_add_file(const char *tool, const char **list, int *n, int max,
		 const char *flag, const char *v);
/* Reads the .npy file path (a regular file) into *arr: 0, or 1 if it
 * cannot be opened and 2 if it is no valid .npy, with the reason in err. */
int cli_read_npy(const char *path, nnrt_array *arr, char *err, size_t n);
/* Loads n .npy files (one per graph input, samples along dim 0) into
 * x, with labels (int64 or int32, one per sample) if not NULL. flag
 * ("--calib") names them in messages and x->what. False after reporting;
 * x is then empty. Free with pass_data_free. */
bool cli_load_data(const char *flag, const char *const *paths, int n,
		   const char *labels, pass_data *x, nn_diag *d);
/* The data-driven passes' environment with --calib (labels on it
 * unless --eval is given) and --eval loaded; NULL after an error. Free
 * with cli_env_free (the data and the teacher). */
pass_env *cli_env_new(const char *const *calib, int ncalib,
		      const char *const *eval, int neval, const char *labels,
		      nn_diag *d);
void cli_env_free(pass_env *e);

/* --version: the tool's and nncc's version, the LLVM version and the
 * default target triple (stdout). */
/* nncc's version (the project's), for --version and the provenance. */
const char *cli_nncc_version(void);
void cli_version(const char *tool);
/* The model's name in messages: "<stdin>" for "-". */
const char *cli_model_name(const char *model);

/* -v: each phase's wall time on stderr as it ends ("TOOL: PHASE  1.2 ms"),
 * then the total; silent unless on. */
typedef struct cli_timer {
	const char *tool;
	bool on;
	double start, last; /* nnrt_now_ns */
} cli_timer;
void cli_timer_start(cli_timer *t, const char *tool, bool on);
void cli_phase(cli_timer *t, const char *phase); /* the one just ended */
void cli_timer_end(cli_timer *t);

/* The options of a --help text: on each option line (two spaces, then
 * '-'), the words of its first column (up to two spaces in a row) that
 * start with '-' and a letter, each cut where its value starts: "--prune"
 * of "--prune=SPARSITY[:METHOD]", "-H" and "--emit-header" of "-H FILE,
 * --emit-header FILE". Fills opt (pointers into help) and len, at most
 * max; returns the count. test/tools/Inputs/check_man.py reads them the
 * same way. */
#define CLI_MAX_OPTIONS 128
int cli_help_options(const char *help, const char **opt, size_t *len,
		     int max);
/* The one of the n words nearest to s by edit distance when it is a
 * likely typo of it (a small distance, not 0), else NULL: the "did you
 * mean" of a bad option value. */
const char *cli_nearest(const char *s, const char *const *words, int n);
/* Reports "TOOL: error: unknown option 'ARG'", with "did you mean" the
 * nearest option (edit distance) of the tool's --help text, which usage
 * prints: the options' one table. Returns 1. */
int cli_unknown_option(const char *tool, const char *arg,
		       void (*usage)(FILE *));

#endif
