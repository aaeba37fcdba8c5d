/* Command-line pieces the nncc tools share: option values and
 * --input-shape bindings, with the same messages in every tool. */
#ifndef NNCC_TOOLS_CLI_H
#define NNCC_TOOLS_CLI_H

#include "frontend.h"

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

#endif
