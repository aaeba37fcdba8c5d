/* Command-line pieces the nncc tools share (see cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *
cli_value(const char *tool, int argc, char **argv, int *i, const char *name,
	  bool *bad)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "%s: error: %s needs a value\n", tool, name);
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

bool
cli_add_input_shape(const char *tool, fe_input_shape **shapes, int *n,
		    const char *arg)
{
	*shapes = nn_xrealloc(*shapes, sizeof **shapes * (size_t)(*n + 1));
	if (!fe_parse_input_shape(arg, &(*shapes)[*n])) {
		fprintf(stderr, "%s: error: malformed --input-shape '%s' "
			"(expected NAME=1x3x224x224)\n", tool, arg);
		return false;
	}
	(*n)++;
	return true;
}
