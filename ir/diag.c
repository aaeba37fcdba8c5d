/* Diagnostics: user errors with a location, and assertion failures. */
#include <stdlib.h>

#include "ir.h"

void
nn_diag_init(nn_diag *d, const char *tool, const char *file)
{
	d->tool = tool;
	d->file = file;
	d->nerrors = 0;
	d->out = stderr;
}

static FILE *
out(const nn_diag *d)
{
	return d->out ? d->out : stderr;
}

static void
head(nn_diag *d, const char *what)
{
	nn_progress_clear();
	fprintf(out(d), "%s: %s: ", d->tool ? d->tool : "nncc", what);
	if (d->file)
		fprintf(out(d), "%s: ", d->file);
}

void
nn_verror(nn_diag *d, const char *fmt, va_list ap)
{
	head(d, "error");
	vfprintf(out(d), fmt, ap);
	fputc('\n', out(d));
	d->nerrors++;
}

void
nn_error(nn_diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nn_verror(d, fmt, ap);
	va_end(ap);
}

void
nn_error_tool(nn_diag *d, const char *fmt, ...)
{
	const char *file = d->file;
	va_list ap;

	d->file = NULL;
	va_start(ap, fmt);
	nn_verror(d, fmt, ap);
	va_end(ap);
	d->file = file;
}

void
nn_error_node(nn_diag *d, const ir_node *n, const char *fmt, ...)
{
	va_list ap;
	head(d, "error");
	if (n->name && n->name[0])
		fprintf(out(d), "node '%s' (%s): ", n->name,
			ir_ops[n->op].name);
	else if (n->nout > 0 && n->out[0])
		fprintf(out(d), "node producing '%s' (%s): ",
			ir_value_label(n->out[0]), ir_ops[n->op].name);
	else
		fprintf(out(d), "node (%s): ", ir_ops[n->op].name);
	va_start(ap, fmt);
	vfprintf(out(d), fmt, ap);
	va_end(ap);
	fputc('\n', out(d));
	d->nerrors++;
}

void
nn_error_at(nn_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;
	nn_progress_clear();
	fprintf(out(d), "%s:%d:%d: error: ", d->file ? d->file : "<input>",
		line, col);
	va_start(ap, fmt);
	vfprintf(out(d), fmt, ap);
	va_end(ap);
	fputc('\n', out(d));
	d->nerrors++;
}

void
nn_warn(nn_diag *d, const char *fmt, ...)
{
	va_list ap;
	head(d, "warning");
	va_start(ap, fmt);
	vfprintf(out(d), fmt, ap);
	va_end(ap);
	fputc('\n', out(d));
}

void
nn_note(nn_diag *d, const char *fmt, ...)
{
	va_list ap;
	nn_progress_clear();
	fprintf(out(d), "%s: note: ", d->tool ? d->tool : "nncc");
	va_start(ap, fmt);
	vfprintf(out(d), fmt, ap);
	va_end(ap);
	fputc('\n', out(d));
}

_Noreturn void
nn_assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "nncc: internal error: %s:%d: assertion '%s' failed\n",
		file, line, expr);
	abort();
}
