/* Progress of the long stages on stderr (nncc --progress): on a terminal
 * one line rewritten in place with \r, forced onto a file or pipe plain
 * lines, else nothing. One process-wide switch, set once by the tool:
 * the stages report from every layer (import, passes, code generation)
 * without a handle threaded through them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ir.h"

#define LINE_MAX_COLS 100 /* a rewritten line is cut to this width */

static struct {
	int mode;          /* 0 off, 1 rewritten line, 2 plain lines */
	const char *tool;
	bool pending;      /* a rewritten line is on the terminal */
	double last;       /* when the last line was printed (seconds) */
} pg;

#define DETAIL_SECONDS 0.25 /* the least time between detail lines */

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void
nn_progress_init(const char *tool, int want)
{
	bool tty = isatty(STDERR_FILENO);
	pg.tool = tool;
	pg.pending = false;
	pg.mode = want == 0 ? 0 : tty ? 1 : want > 0 ? 2 : 0;
}

bool
nn_progress_on(void)
{
	return pg.mode != 0;
}

static void
vprogress(const char *stage, const char *fmt, va_list ap)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%s: %s: ", pg.tool, stage);

	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	pg.last = now();
	if (pg.mode == 2) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	if (strlen(line) > LINE_MAX_COLS)
		strcpy(line + LINE_MAX_COLS - 3, "...");
	/* \033[K clears what a longer line before left */
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	pg.pending = true;
}

void
nn_progress(const char *stage, const char *fmt, ...)
{
	va_list ap;

	if (!pg.mode)
		return;
	va_start(ap, fmt);
	vprogress(stage, fmt, ap);
	va_end(ap);
}

void
nn_progress_detail(const char *stage, const char *fmt, ...)
{
	va_list ap;

	if (!pg.mode || now() - pg.last < DETAIL_SECONDS)
		return;
	va_start(ap, fmt);
	vprogress(stage, fmt, ap);
	va_end(ap);
}

void
nn_progress_clear(void)
{
	if (pg.mode == 1 && pg.pending) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	pg.pending = false;
}
