/* The prune rules file: one rule per line, `PATTERN WORD...`, matched by
 * fnmatch against layer names, first match wins (docs/compression.md). */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* Errors name the rules file, not the model being compiled. */
static void
rule_error(nn_diag *d, const char *path, int line, int col, const char *fmt,
	   const char *word) __attribute__((format(printf, 5, 0)));

static void
rule_error(nn_diag *d, const char *path, int line, int col, const char *fmt,
	   const char *word)
{
	char msg[512];
	nn_diag rd = *d;
	rd.file = path;
	snprintf(msg, sizeof msg, fmt, word);
	nn_error_at(&rd, line, col, "%s", msg);
	d->nerrors = rd.nerrors;
}

static bool
parse_num(const char *w, double *v)
{
	char *e;
	errno = 0;
	*v = strtod(w, &e);
	return e != w && !*e && !errno;
}

static bool
parse_int(const char *w, int *v)
{
	char *e;
	errno = 0;
	long x = strtol(w, &e, 10);
	*v = (int)x;
	return e != w && !*e && !errno && x >= 0 && x <= 65536;
}

/* One `key=value` word into s; false if the key or value is bad. */
static bool
apply_kv(const char *w, cmp_spec *s)
{
	const char *eq = strchr(w, '=');
	const char *v = eq + 1;
	size_t k = (size_t)(eq - w);
	double x;
	int i;
	if (k == 1 && w[0] == 'n')
		return parse_int(v, &s->n);
	if (k == 1 && w[0] == 'm')
		return parse_int(v, &s->m);
	if (k == 5 && !strncmp(w, "block", 5))
		return cmp_parse_block(v, &s->br, &s->bc);
	if (k == 4 && !strncmp(w, "seed", 4)) {
		if (!parse_int(v, &i))
			return false;
		s->seed = (uint64_t)i;
		return true;
	}
	if (k == 8 && !strncmp(w, "sparsity", 8))
		return parse_num(v, &x) && (s->sparsity = x, true);
	if (k == 6 && !strncmp(w, "method", 6))
		return (s->method = cmp_method_lookup(v)) != CMP_NMETHODS;
	return false;
}

/* One word after the pattern: a sparsity, a method, or key=value. */
static bool
apply_word(const char *w, cmp_spec *s)
{
	double x;
	if (strchr(w, '='))
		return apply_kv(w, s);
	if (parse_num(w, &x)) {
		s->sparsity = x;
		return true;
	}
	cmp_method m = cmp_method_lookup(w);
	if (m != CMP_NMETHODS)
		s->method = m;
	return m != CMP_NMETHODS;
}

/* Splits line into words in place (NUL-terminated); returns the count and
 * each word's column. */
static int
split_words(char *line, char **w, int *col, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#' || n == max)
			return n;
		w[n] = p;
		col[n++] = (int)(p - line) + 1;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = 0;
	}
}

static bool
parse_line(char *line, int lno, const char *path, const cmp_spec *dflt,
	   cmp_rules *r, nn_diag *d)
{
	char *w[32];
	int col[32], n = split_words(line, w, col, 32);
	if (n == 0)
		return true;
	if (n == 1) {
		rule_error(d, path, lno, col[0], "rule for '%s' says nothing "
			   "(give 'dense', a sparsity, a method or key=value)",
			   w[0]);
		return false;
	}
	cmp_spec s = *dflt;
	for (int i = 1; i < n; i++)
		if (!apply_word(w[i], &s)) {
			rule_error(d, path, lno, col[i], "bad rule word '%s' "
				   "(expected dense, a sparsity, magnitude, "
				   "global, random, l1, l2, nm, block, apoz, "
				   "activation, wanda, default, n=, m=, "
				   "block=RxC, seed= or sparsity=)", w[i]);
			return false;
		}
	char where[4200]; /* a path of up to PATH_MAX, then ":LINE" */
	snprintf(where, sizeof where, "%s:%d", path, lno);
	if (!cmp_spec_check(&s, where, d))
		return false;
	r->rule = nn_xrealloc(r->rule, sizeof *r->rule * (size_t)(r->n + 1));
	r->rule[r->n++] = (cmp_rule){ nn_xstrdup(w[0]), s, lno, col[0] };
	return true;
}

cmp_rules *
cmp_rules_parse(const char *text, const char *path, const cmp_spec *dflt,
		nn_diag *d)
{
	cmp_rules *r = nn_xcalloc(1, sizeof *r);
	r->path = nn_xstrdup(path);
	char *buf = nn_xstrdup(text), *p = buf;
	bool ok = true;
	for (int lno = 1; p && ok; lno++) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		ok = parse_line(p, lno, path, dflt, r, d);
		p = nl ? nl + 1 : NULL;
	}
	free(buf);
	if (!ok) {
		cmp_rules_free(r);
		return NULL;
	}
	return r;
}

cmp_rules *
cmp_rules_load(const char *path, const cmp_spec *dflt, nn_diag *d)
{
	const char *why;
	size_t len;
	char *text = nn_in_read(path, &len, &why);
	if (!text) {
		nn_error(d, "cannot open prune rules '%s': %s", path, why);
		return NULL;
	}
	cmp_rules *r = cmp_rules_parse(text, path, dflt, d);
	free(text);
	return r;
}

bool
cmp_rules_check_used(const cmp_rules *r, const char *const *names, int n,
		     nn_diag *d)
{
	for (int i = 0; r && i < r->n; i++) {
		int j = 0;
		while (j < n && fnmatch(r->rule[i].pattern, names[j], 0) != 0)
			j++;
		if (j < n)
			continue;
		char msg[512];
		size_t k = (size_t)snprintf(msg, sizeof msg, "rule '%s' matches "
					    "no weight layer (%d in the model%s",
					    r->rule[i].pattern, n, n ? ": " : "");
		for (j = 0; j < n && j < 4 && k < sizeof msg; j++)
			k += (size_t)snprintf(msg + k, sizeof msg - k, "%s'%s'",
					      j ? ", " : "", names[j]);
		if (k < sizeof msg)
			snprintf(msg + k, sizeof msg - k, "%s)",
				 n > 4 ? ", ..." : "");
		rule_error(d, r->path, r->rule[i].line, r->rule[i].col, "%s",
			   msg);
		return false;
	}
	return true;
}

const cmp_rule *
cmp_rules_match(const cmp_rules *r, const char *name)
{
	for (int i = 0; r && i < r->n; i++)
		if (fnmatch(r->rule[i].pattern, name, 0) == 0)
			return &r->rule[i];
	return NULL;
}

void
cmp_rules_free(cmp_rules *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++)
		free(r->rule[i].pattern);
	free(r->rule);
	free(r->path);
	free(r);
}
