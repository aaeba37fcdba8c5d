/* --report=svg: the report (nncc_report) as a self-contained SVG a
 * person reads at a glance: per weight layer its sparsity and its weight
 * bytes before (dense f32) and after (in the object) as bars; and, when
 * a sweep ran (pruning in steps with --calib, --prune=auto's search),
 * accuracy (or top-1 agreement) against the weights left. Written by
 * hand as text; names are escaped as XML. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncc.h"

#define W 800          /* the picture's width */
#define NAME_W 190     /* the layer names' column */
#define ROW 18         /* one layer's row */
#define BAR_W 250      /* each bar chart's width */
#define PLOT_H 300     /* the accuracy chart's plot height */
#define MAX_POINTS 4096
#define MAX_ROWS 500   /* layers drawn; the rest are counted below them */

/* Text as XML character data or an attribute value: the five markup
 * characters as entities, control characters (not allowed in XML 1.0)
 * as '?', invalid UTF-8 as U+FFFD; at most max characters, then "...". */
static void
xml_text(FILE *f, const char *str, int max)
{
	const unsigned char *s = (const unsigned char *)str;
	for (int k = 0; *s; k++) {
		int n = nncc_utf8_len(s);
		if (k == max) {
			fputs("...", f);
			return;
		}
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fputc('?', f);
			else if (n == 0)
				fputs("&#xFFFD;", f);
			else
				fwrite(s, 1, (size_t)n, f);
		}
		s += n ? n : 1;
	}
}

/* "12.3 kB" */
static void
bytes_text(char *buf, size_t n, double b)
{
	if (b >= 1e6)
		snprintf(buf, n, "%.2f MB", b / 1e6);
	else if (b >= 1e3)
		snprintf(buf, n, "%.1f kB", b / 1e3);
	else
		snprintf(buf, n, "%.0f B", b);
}

static void
title_line(FILE *f, int y, const char *text, const char *size, int max)
{
	fprintf(f, "<text x=\"16\" y=\"%d\" font-size=\"%s\" "
		"font-weight=\"bold\">", y, size);
	xml_text(f, text, max);
	fputs("</text>\n", f);
}

/* The layers drawn: a graph of thousands would be a picture no one
 * scrolls through. */
static int
rows(const nncc_report *r)
{
	return r->nlayers < MAX_ROWS ? r->nlayers : MAX_ROWS;
}

/* The per-layer bars from y on; returns the y below them. */
static int
layer_bars(FILE *f, const nncc_report *r, int y)
{
	int64_t maxb = 1;
	int x1 = NAME_W, x2 = NAME_W + BAR_W + 50;
	for (int i = 0; i < r->nlayers; i++) {
		int64_t b = 4 * r->layer[i].params;
		maxb = b > maxb ? b : maxb;
		maxb = r->layer[i].bytes > maxb ? r->layer[i].bytes : maxb;
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">sparsity "
		"(share of the weights gone)</text>\n", x1, y);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">bytes: "
		"<tspan fill=\"#757575\">dense f32</tspan>, <tspan "
		"fill=\"#1565c0\">in the object</tspan></text>\n", x2, y);
	y += 8;
	for (int i = 0; i < rows(r); i++, y += ROW) {
		const nncc_report_layer *L = &r->layer[i];
		char b0[32], b1[32];
		double w0 = BAR_W * (double)(4 * L->params) / (double)maxb;
		double w1 = BAR_W * (double)L->bytes / (double)maxb;
		bytes_text(b0, sizeof b0, 4.0 * (double)L->params);
		bytes_text(b1, sizeof b1, (double)L->bytes);
		fputs("<g>\n<title>", f);
		xml_text(f, L->name, 400);
		fprintf(f, " (%s, %s kernel): sparsity %.2f%%, %lld of %lld "
			"weights left, %s -&gt; %s</title>\n", L->op, L->kernel,
			100 * L->sparsity, (long long)L->nnz,
			(long long)L->params, b0, b1);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
			"text-anchor=\"end\">", NAME_W - 8, y + 12);
		xml_text(f, L->name, 28);
		fputs("</text>\n", f);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" "
			"fill=\"#eeeeee\"/>\n", x1, y + 2, BAR_W);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"12\""
			" fill=\"#ef6c00\"/>\n", x1, y + 2, BAR_W * L->sparsity);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\">%.1f%%"
			"</text>\n", x1 + BAR_W + 4, y + 12, 100 * L->sparsity);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"6\" "
			"fill=\"#9e9e9e\"/>\n", x2, y + 2, fmax(w0, 0.5));
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"6\" "
			"fill=\"#1565c0\"/>\n", x2, y + 8, fmax(w1, 0.5));
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%s</text>"
			"\n</g>\n", x2 + fmax(w0, w1) + 4, y + 12, b1);
	}
	if (rows(r) < r->nlayers) {
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">... and %d "
			"more layers (--report=json has them all)</text>\n", x1,
			y + 12, r->nlayers - rows(r));
		y += ROW;
	}
	return y;
}

typedef struct point {
	double x, y;  /* weights left; accuracy or agreement */
	int series;   /* 0: stages; 1: a search step kept; 2: rejected */
	const char *what; /* the pass (stages) or the layer (steps) */
} point;

/* A figure of ev, or NAN. */
static double
field(const pass_event *ev, const char *key)
{
	for (int i = 0; i < ev->nfields; i++)
		if (!strcmp(ev->field[i].key, key) && !ev->field[i].str)
			return ev->field[i].num;
	return NAN;
}

/* The points of the accuracy chart: a stage after every lossy step and
 * every step prune-auto's search tried; *acc: whether they are
 * accuracies (labels) rather than agreements. */
static int
points(const nncc_report *r, point *p, bool *acc)
{
	int n = 0;
	*acc = false;
	for (int i = 0; r->env && i < r->env->nevents && n < MAX_POINTS;
	     i++) {
		const pass_event *ev = &r->env->events[i];
		bool stage = !strcmp(ev->kind, "stage");
		if (!stage && strcmp(ev->kind, "prune-auto-step"))
			continue;
		double a = field(ev, "accuracy");
		double y = a >= 0 ? a : field(ev, "top1_agreement");
		*acc |= a >= 0;
		p[n].x = field(ev, "nnz");
		p[n].y = y;
		p[n].series = stage ? 0 : field(ev, "kept") != 0 ? 1 : 2;
		p[n].what = "";
		for (int k = 0; stage && k < ev->nfields; k++)
			if (!strcmp(ev->field[k].key, "pass") &&
			    ev->field[k].str)
				p[n].what = ev->field[k].str;
		if (!stage && ev->layer)
			p[n].what = ev->layer;
		n += isfinite(p[n].x) && isfinite(p[n].y);
	}
	return n;
}

static void
axes(FILE *f, int x0, int y0, int pw, double xmin, double xmax, double ymin,
     double ymax, bool acc)
{
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"none\" stroke=\"#616161\"/>\n", x0, y0, pw, PLOT_H);
	for (int t = 0; t <= 4; t++) {
		double yv = ymin + (ymax - ymin) * t / 4;
		double xv = xmin + (xmax - xmin) * t / 4;
		int py = y0 + PLOT_H - PLOT_H * t / 4, px = x0 + pw * t / 4;
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"#e0e0e0\"/>\n", x0, py, x0 + pw, py);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" "
			"text-anchor=\"end\">%.3f</text>\n", x0 - 4, py + 3, yv);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" "
			"text-anchor=\"middle\">%.0f</text>\n", px,
			y0 + PLOT_H + 14, xv);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor="
		"\"middle\">non-zero weights left</text>\n", x0 + pw / 2,
		y0 + PLOT_H + 32);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" transform="
		"\"rotate(-90 %d %d)\" text-anchor=\"middle\">%s</text>\n",
		x0 - 46, y0 + PLOT_H / 2, x0 - 46, y0 + PLOT_H / 2,
		acc ? "accuracy" : "top-1 agreement with the uncompressed");
}

/* Accuracy against size from y on (at least two points); returns the y
 * below it. */
static int
sweep_chart(FILE *f, const point *p, int n, bool acc, int y)
{
	int x0 = 80, pw = W - x0 - 40, y0 = y + 16;
	double xmin = p[0].x, xmax = p[0].x, ymin = p[0].y, ymax = p[0].y;
	static const char *const color[] = {"#1565c0", "#2e7d32", "#c62828"};
	static const char *const what[] = {"after a lossy step",
					   "search step kept",
					   "search step over the tolerance"};
	for (int i = 1; i < n; i++) {
		xmin = fmin(xmin, p[i].x);
		xmax = fmax(xmax, p[i].x);
		ymin = fmin(ymin, p[i].y);
		ymax = fmax(ymax, p[i].y);
	}
	if (xmax - xmin < 1) {
		xmin -= 1;
		xmax += 1;
	}
	if (ymax - ymin < 0.01) {
		ymin -= 0.005;
		ymax += 0.005;
	}
	title_line(f, y, acc ? "Accuracy against size" :
		   "Top-1 agreement against size", "14", 80);
	axes(f, x0, y0, pw, xmin, xmax, ymin, ymax, acc);
#define PX(v) (x0 + pw * ((v) - xmin) / (xmax - xmin))
#define PY(v) (y0 + PLOT_H - PLOT_H * ((v) - ymin) / (ymax - ymin))
	fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" "
	      "points=\"", f);
	for (int i = 0; i < n; i++)
		if (p[i].series == 0)
			fprintf(f, "%.1f,%.1f ", PX(p[i].x), PY(p[i].y));
	fputs("\"/>\n", f);
	bool has[3] = {false, false, false};
	for (int i = 0; i < n; i++) {
		has[p[i].series] = true;
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" "
			"fill-opacity=\"0.8\"><title>%s (", PX(p[i].x),
			PY(p[i].y), color[p[i].series], what[p[i].series]);
		xml_text(f, p[i].what, 200);
		fprintf(f, "): %.0f weights, %.4f</title></circle>\n", p[i].x,
			p[i].y);
	}
#undef PX
#undef PY
	y = y0 + PLOT_H + 52;
	for (int s = 0, x = x0; s < 3; s++) {
		if (!has[s])
			continue;
		fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n",
			x, y - 4, color[s], x + 8, y, what[s]);
		x += 230;
	}
	return y + 16;
}

bool
nncc_write_report_svg(const char *path, const args *a, const nncc_report *r,
		      nn_diag *d)
{
	nn_outfile o;
	point *p = nn_xmalloc(MAX_POINTS * sizeof *p);
	bool acc;
	int np = points(r, p, &acc);
	int h = 80 + (rows(r) + 1) * ROW + 40 + (np >= 2 ? PLOT_H + 130 : 0) +
		30;
	char line[600], b0[32], b1[32];
	FILE *f = nn_out_open(&o, path, d);

	if (!f) {
		free(p);
		return false;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns="
		"\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", W, h, W,
		h);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, h);
	snprintf(line, sizeof line, "nncc report: %s", a->model);
	title_line(f, 24, line, "16", 70);
	bytes_text(b0, sizeof b0, (double)r->before);
	bytes_text(b1, sizeof b1, (double)r->after);
	snprintf(line, sizeof line, "weights %s dense f32 -> %s in the object "
		 "(%.2fx smaller)", b0, b1, r->after ? (double)r->before /
		 (double)r->after : 0.0);
	fprintf(f, "<text x=\"16\" y=\"44\" font-size=\"12\">");
	xml_text(f, line, 110);
	fputs("</text>\n", f);
	if (r->measured) {
		/* the figures first: a long file name may be cut */
		line[0] = 0;
		if (r->fid.accuracy >= 0)
			snprintf(line, sizeof line, "accuracy %.4f (uncompressed "
				 "%.4f), ", r->fid.accuracy,
				 r->fid.ref_accuracy);
		snprintf(line + strlen(line), sizeof line - strlen(line),
			 "top-1 agreement %.4f on %lld samples (%s)",
			 r->fid.top1_agree, (long long)r->fid.nsamples,
			 r->note);
		fprintf(f, "<text x=\"16\" y=\"60\" font-size=\"12\">");
		xml_text(f, line, 110);
		fputs("</text>\n", f);
	}
	int y = layer_bars(f, r, 84);
	if (np >= 2)
		y = sweep_chart(f, p, np, acc, y + 30);
	fputs("</svg>\n", f);
	free(p);
	return nn_out_close(&o, true, d);
}
