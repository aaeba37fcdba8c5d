/* The IR text parser: reads what print.c writes (and a little more: splat
 * for small constants, seeded random fills, `?` dims) back into a graph.
 * Errors are reported at line:col. The grammar is in docs/ir.md. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Constants the parser materializes are capped so a typo in a dim gives
 * an error instead of an out-of-memory abort. */
#define MAX_CONST_BYTES ((int64_t)1 << 32)

typedef enum tok_kind {
	T_EOF,
	T_IDENT,  /* bare word: ops, keywords, dtypes, attribute names */
	T_VALUE,  /* %N or %name or %"name" */
	T_GLOBAL, /* @name */
	T_INT,
	T_FLOAT,  /* includes -inf; bare nan and inf lex as T_IDENT */
	T_STRING,
	T_ARROW,
	T_PUNCT,  /* one of ( ) [ ] { } < > , : = ? */
	T_BAD,
} tok_kind;

typedef struct token {
	tok_kind kind;
	int line, col;
	const char *start;
	size_t len;
	char *str;       /* decoded text (names, strings, numbers); malloc'd */
	size_t cap;
	bool numbered;   /* T_VALUE: %N */
} token;

/* Symbols: "#N" for numbered values, "$name" for named ones, mapped to
 * values by open addressing. */
typedef struct sym {
	char *key;
	ir_value *v;
} sym;

typedef struct parser {
	const char *p, *end, *line_start;
	int line;
	token tok;
	nn_diag *d;
	ir_graph *g;
	sym *syms;
	size_t nsyms, cap;
	bool failed;
} parser;

static void
err(parser *P, const token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
err(parser *P, const token *t, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (P->failed)
		return; /* the first error is the one worth reading */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	nn_error_at(P->d, t->line, t->col, "%s", msg);
	P->failed = true;
}

/* ------------------------------------------------------------------ */
/* Lexer */

static void
put(token *t, char c)
{
	if (t->len + 2 > t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->str = nn_xrealloc(t->str, t->cap);
	}
	t->str[t->len++] = c;
	t->str[t->len] = 0;
}

static bool
is_word(int c, bool dots)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (dots && c == '.');
}

static void
skip_space(parser *P)
{
	while (P->p < P->end) {
		char c = *P->p;
		if (c == '\n') {
			P->line++;
			P->line_start = ++P->p;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			P->p++;
		} else if (c == '/' && P->p + 1 < P->end && P->p[1] == '/') {
			while (P->p < P->end && *P->p != '\n')
				P->p++;
		} else {
			break;
		}
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A quoted string starting at P->p (the opening quote), decoded. */
static bool
lex_string(parser *P, token *t)
{
	P->p++;
	while (P->p < P->end && *P->p != '"' && *P->p != '\n') {
		char c = *P->p++;
		if (c != '\\') {
			put(t, c);
			continue;
		}
		char e = P->p < P->end ? *P->p++ : 0;
		if (e == 'n' || e == 't' || e == '"' || e == '\\') {
			put(t, e == 'n' ? '\n' : e == 't' ? '\t' : e);
		} else if (e == 'x' && P->end - P->p >= 2 &&
			   hexval(P->p[0]) >= 0 && hexval(P->p[1]) >= 0) {
			put(t, (char)(hexval(P->p[0]) * 16 + hexval(P->p[1])));
			P->p += 2;
		} else {
			err(P, t, "bad escape '\\%c' in string", e ? e : ' ');
			return false;
		}
	}
	if (P->p >= P->end || *P->p != '"') {
		err(P, t, "unterminated string");
		return false;
	}
	P->p++;
	if (memchr(t->str ? t->str : "", 0, t->len)) {
		err(P, t, "string contains a NUL byte");
		return false;
	}
	return true;
}

static void
lex_number(parser *P, token *t)
{
	const char *s = P->p;
	t->kind = T_INT;
	if (*s == '-' || *s == '+')
		put(t, *s++);
	if (s + 2 < P->end + 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		put(t, *s++);
		put(t, *s++);
		while (s < P->end && hexval(*s) >= 0)
			put(t, *s++);
	} else if (P->end - s >= 3 && strncmp(s, "inf", 3) == 0) {
		for (int i = 0; i < 3; i++)
			put(t, *s++);
		t->kind = T_FLOAT;
	} else {
		while (s < P->end && ((*s >= '0' && *s <= '9') || *s == '.' ||
				      *s == 'e' || *s == 'E' ||
				      ((*s == '-' || *s == '+') &&
				       (s[-1] == 'e' || s[-1] == 'E')))) {
			if (*s == '.' || *s == 'e' || *s == 'E')
				t->kind = T_FLOAT;
			put(t, *s++);
		}
	}
	P->p = s;
}

static void
next(parser *P)
{
	token *t = &P->tok;
	skip_space(P);
	t->line = P->line;
	t->col = (int)(P->p - P->line_start) + 1;
	t->start = P->p;
	t->len = 0;
	t->numbered = false;
	if (t->str)
		t->str[0] = 0;
	if (P->p >= P->end) {
		t->kind = T_EOF;
		return;
	}
	char c = *P->p;
	char c1 = P->p + 1 < P->end ? P->p[1] : 0;
	if (c == '%' || c == '@') {
		P->p++;
		t->kind = c == '%' ? T_VALUE : T_GLOBAL;
		if (P->p < P->end && *P->p == '"') {
			lex_string(P, t);
		} else {
			t->numbered = c == '%' && P->p < P->end &&
				      *P->p >= '0' && *P->p <= '9';
			while (P->p < P->end && is_word(*P->p, false))
				put(t, *P->p++);
			if (t->len == 0) {
				t->kind = T_BAD;
				put(t, c);
			}
		}
	} else if (c == '"') {
		t->kind = T_STRING;
		lex_string(P, t);
	} else if (c == '-' && c1 == '>') {
		t->kind = T_ARROW;
		P->p += 2;
	} else if ((c >= '0' && c <= '9') ||
		   ((c == '-' || c == '+') &&
		    ((c1 >= '0' && c1 <= '9') || c1 == 'i'))) {
		lex_number(P, t);
	} else if (is_word(c, false)) {
		t->kind = T_IDENT;
		while (P->p < P->end && is_word(*P->p, true))
			put(t, *P->p++);
	} else if (strchr("()[]{}<>,:=?", c)) {
		t->kind = T_PUNCT;
		put(t, *P->p++);
	} else {
		t->kind = T_BAD;
		put(t, *P->p++);
	}
	t->len = (size_t)(P->p - t->start);
}

/* The current token as the user wrote it, for messages. */
static const char *
tok_text(const token *t, char *buf, size_t size)
{
	if (t->kind == T_EOF)
		return "end of file";
	size_t n = t->len < size - 1 ? t->len : size - 1;
	memcpy(buf, t->start, n);
	buf[n] = 0;
	return buf;
}

static bool
is_punct(const parser *P, char c)
{
	return P->tok.kind == T_PUNCT && P->tok.str[0] == c;
}

static bool
is_ident(const parser *P, const char *s)
{
	return P->tok.kind == T_IDENT && strcmp(P->tok.str, s) == 0;
}

static void
expected(parser *P, const char *what)
{
	char buf[64];
	err(P, &P->tok, "expected %s, found '%s'", what,
	    tok_text(&P->tok, buf, sizeof buf));
}

static bool
expect_punct(parser *P, char c)
{
	if (P->failed)
		return false;
	if (!is_punct(P, c)) {
		char what[8] = {'\'', c, '\'', 0};
		expected(P, what);
		return false;
	}
	next(P);
	return true;
}

static bool
expect_ident(parser *P, const char *s)
{
	if (P->failed)
		return false;
	if (!is_ident(P, s)) {
		char what[64];
		snprintf(what, sizeof what, "'%s'", s);
		expected(P, what);
		return false;
	}
	next(P);
	return true;
}

/* ------------------------------------------------------------------ */
/* Symbols */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static sym *
lookup_slot(parser *P, const char *key)
{
	size_t i = (size_t)hash_str(key) & (P->cap - 1);
	while (P->syms[i].key && strcmp(P->syms[i].key, key) != 0)
		i = (i + 1) & (P->cap - 1);
	return &P->syms[i];
}

static void
sym_key(const token *t, char *buf, size_t size)
{
	snprintf(buf, size, "%c%s", t->numbered ? '#' : '$', t->str);
}

static ir_value *
sym_get(parser *P, const token *t)
{
	char key[600];
	sym_key(t, key, sizeof key);
	return lookup_slot(P, key)->v;
}

static void
sym_put(parser *P, const token *t, ir_value *v)
{
	char key[600];
	if (2 * (P->nsyms + 1) > P->cap) {
		sym *old = P->syms;
		size_t oldcap = P->cap;
		P->cap *= 2;
		P->syms = nn_xcalloc(P->cap, sizeof *P->syms);
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].key)
				*lookup_slot(P, old[i].key) = old[i];
		free(old);
	}
	sym_key(t, key, sizeof key);
	sym *s = lookup_slot(P, key);
	NN_ASSERT(!s->key);
	s->key = nn_xstrdup(key);
	s->v = v;
	P->nsyms++;
}

/* A value token about to be defined: error if it already is. */
static bool
check_fresh(parser *P, const token *t)
{
	if (sym_get(P, t)) {
		err(P, t, "redefinition of value '%%%s'", t->str);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Types and numbers */

static bool
parse_int(parser *P, int64_t *out)
{
	token *t = &P->tok;
	char buf[64];
	if (t->kind != T_INT) {
		expected(P, "an integer");
		return false;
	}
	errno = 0;
	char *e;
	long long v = strtoll(t->str, &e, 0);
	if (errno || *e) {
		err(P, t, "bad integer '%s'", tok_text(t, buf, sizeof buf));
		return false;
	}
	*out = v;
	next(P);
	return true;
}

static bool
parse_type(parser *P, ir_dtype *dt, ir_shape *s)
{
	token *t = &P->tok;
	char buf[64];
	if (P->failed)
		return false;
	if (t->kind != T_IDENT) {
		expected(P, "a type like f32[1,4]");
		return false;
	}
	*dt = ir_dtype_parse(t->str, strlen(t->str));
	if (*dt == IR_UNDEF) {
		err(P, t, "unknown element type '%s'",
		    tok_text(t, buf, sizeof buf));
		return false;
	}
	next(P);
	if (!expect_punct(P, '['))
		return false;
	memset(s, 0, sizeof *s);
	while (!is_punct(P, ']')) {
		if (s->rank && !expect_punct(P, ','))
			return false;
		if (s->rank == IR_MAX_RANK) {
			err(P, t, "rank above %d", IR_MAX_RANK);
			return false;
		}
		if (is_punct(P, '?')) {
			s->dim[s->rank++] = -1;
			next(P);
			continue;
		}
		token at = *t;
		if (!parse_int(P, &s->dim[s->rank]))
			return false;
		if (s->dim[s->rank++] < 0) {
			err(P, &at, "negative dimension");
			return false;
		}
	}
	next(P);
	return true;
}

static bool
known_numel(parser *P, const token *at, const ir_shape *s, ir_dtype t,
	    int64_t *n)
{
	*n = ir_shape_numel(s);
	if (*n < 0) {
		for (int i = 0; i < s->rank; i++)
			if (s->dim[i] < 0) {
				err(P, at, "constant data needs a static shape");
				return false;
			}
		err(P, at, "tensor has more than %lld elements",
		    (long long)IR_MAX_ELEMS);
		return false;
	}
	if (*n > MAX_CONST_BYTES / (int64_t)ir_dtype_size(t)) {
		err(P, at, "constant is too large to build (%lld elements)",
		    (long long)*n);
		return false;
	}
	return true;
}

/* One element of dtype t from the current token into data[i]. */
static bool
parse_elem(parser *P, void *data, ir_dtype t, int64_t i)
{
	token *tk = &P->tok;
	char buf[64];
	if (ir_dtype_is_float(t)) {
		bool word = tk->kind == T_IDENT &&
			    (!strcmp(tk->str, "nan") || !strcmp(tk->str, "inf"));
		if (tk->kind != T_INT && tk->kind != T_FLOAT && !word) {
			expected(P, "a number");
			return false;
		}
		ir_read_float_elem(tk->str, data, t, i);
	} else if (t == IR_BOOL) {
		int64_t v = is_ident(P, "true") ? 1 : is_ident(P, "false") ? 0
			  : tk->kind == T_INT ? strtoll(tk->str, NULL, 0) : -1;
		if (v != 0 && v != 1) {
			expected(P, "true, false, 0 or 1");
			return false;
		}
		((uint8_t *)data)[i] = (uint8_t)v;
	} else {
		if (tk->kind != T_INT) {
			expected(P, "an integer");
			return false;
		}
		errno = 0;
		char *e;
		bool neg = tk->str[0] == '-';
		long long sv = neg ? strtoll(tk->str, &e, 0) : 0;
		unsigned long long uv = neg ? 0 : strtoull(tk->str, &e, 0);
		double dv = neg ? (double)sv : (double)uv;
		double back;
		if (t == IR_U64 && !neg) {
			((uint64_t *)data)[i] = uv;
			back = (double)uv;
		} else {
			ir_store_f64(data, t, i, dv);
			back = ir_load_f64(data, t, i);
		}
		/* Saturation in ir_store_f64 shows as a changed value. */
		if (errno || *e || back != dv ||
		    (t == IR_I64 && !neg && uv > INT64_MAX)) {
			err(P, tk, "value %s out of range for %s",
			    tok_text(tk, buf, sizeof buf), ir_dtype_name(t));
			return false;
		}
		if (t == IR_I64)
			((int64_t *)data)[i] = neg ? sv : (int64_t)uv;
	}
	next(P);
	return true;
}

/* A number token (int, float, nan, inf) as a double; for the random fill
 * parameters. */
static bool
parse_double(parser *P, double *v)
{
	token *t = &P->tok;
	bool word = t->kind == T_IDENT &&
		    (!strcmp(t->str, "nan") || !strcmp(t->str, "inf"));
	if (t->kind != T_INT && t->kind != T_FLOAT && !word) {
		expected(P, "a number");
		return false;
	}
	*v = strtod(t->str, NULL);
	next(P);
	return true;
}

/* splitmix64 (docs/ir.md defines the fill so tests can reproduce it). */
static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
uniform(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1p-53;
}

/* random(seed=S, min=A, max=B, sparsity=P), keys in any order. */
static bool
parse_random(parser *P, void *data, ir_dtype t, int64_t n)
{
	token at = P->tok;
	double lo = -1, hi = 1, sparsity = -1;
	int64_t seed = 0;
	bool have_seed = false;
	next(P);
	if (!expect_punct(P, '('))
		return false;
	while (!P->failed && !is_punct(P, ')')) {
		if (P->tok.kind != T_IDENT) {
			expected(P, "seed, min, max or sparsity");
			return false;
		}
		char key[16];
		snprintf(key, sizeof key, "%s", P->tok.str);
		next(P);
		if (!expect_punct(P, '='))
			return false;
		if (!strcmp(key, "seed"))
			have_seed = parse_int(P, &seed);
		else if (!strcmp(key, "min"))
			parse_double(P, &lo);
		else if (!strcmp(key, "max"))
			parse_double(P, &hi);
		else if (!strcmp(key, "sparsity"))
			parse_double(P, &sparsity);
		else
			err(P, &at, "random() takes seed, min, max and "
			    "sparsity, not '%s'", key);
		if (!is_punct(P, ')') && !expect_punct(P, ','))
			return false;
	}
	if (!expect_punct(P, ')'))
		return false;
	if (!have_seed) {
		err(P, &at, "random() needs a seed");
		return false;
	}
	uint64_t s = (uint64_t)seed;
	for (int64_t i = 0; i < n; i++) {
		double keep = sparsity >= 0 ? uniform(&s) : 1;
		double v = lo + (hi - lo) * uniform(&s);
		ir_store_f64(data, t, i, keep < sparsity ? 0 : v);
	}
	return true;
}

/* [v, ...], splat(v) or random(...) into data (n elements of t). */
static bool
parse_data(parser *P, void *data, ir_dtype t, const ir_shape *s, int64_t n)
{
	token at = P->tok;
	if (is_ident(P, "splat")) {
		next(P);
		if (!expect_punct(P, '(') || !parse_elem(P, data, t, 0) ||
		    !expect_punct(P, ')'))
			return false;
		size_t esz = ir_dtype_size(t);
		for (int64_t i = 1; i < n; i++)
			memcpy((char *)data + (size_t)i * esz, data, esz);
		return true;
	}
	if (is_ident(P, "random"))
		return parse_random(P, data, t, n);
	if (!is_punct(P, '[')) {
		expected(P, "constant data ('[', splat, random or elided)");
		return false;
	}
	next(P);
	unsigned char spare[8];
	int64_t count = 0;
	while (!P->failed && !is_punct(P, ']')) {
		if (count && !expect_punct(P, ','))
			return false;
		if (!parse_elem(P, count < n ? data : spare, t,
				count < n ? count : 0))
			return false;
		count++;
	}
	if (P->failed)
		return false;
	next(P);
	if (count != n) {
		char buf[160];
		ir_shape_str(s, buf, sizeof buf);
		err(P, &at, "%s%s needs %lld values, found %lld",
		    ir_dtype_name(t), buf, (long long)n, (long long)count);
		return false;
	}
	return true;
}

/* elided(nnz=N, hash=H): a constant whose data was left out. */
static bool
parse_elided(parser *P, ir_value *v)
{
	int64_t nnz = 0;
	next(P);
	if (!expect_punct(P, '(') || !expect_ident(P, "nnz") ||
	    !expect_punct(P, '=') || !parse_int(P, &nnz) ||
	    !expect_punct(P, ',') || !expect_ident(P, "hash") ||
	    !expect_punct(P, '='))
		return false;
	if (P->tok.kind != T_INT) {
		expected(P, "a hash like 0x0123456789abcdef");
		return false;
	}
	errno = 0;
	v->hash = strtoull(P->tok.str, NULL, 0);
	v->nnz = nnz;
	v->elided = true;
	next(P);
	return expect_punct(P, ')');
}

/* Each element's index in the codebook (the first equal centroid). */
static bool
derive_codes(parser *P, const token *at, ir_value *v)
{
	int64_t n = ir_shape_numel(&v->shape);
	v->codes = nn_alloc(P->g->weights, (size_t)n);
	for (int64_t i = 0; i < n; i++) {
		float x = ((const float *)v->data)[i];
		int k = 0;
		while (k < v->ncodes && v->codebook[k] != x)
			k++;
		if (k == v->ncodes) {
			err(P, at, "element %lld (%g) is not in the codebook",
			    (long long)i, (double)x);
			return false;
		}
		v->codes[i] = (uint8_t)k;
	}
	return true;
}

/* codebook(k=N) after elided data, or codebook([c, ...]) after full data
 * (docs/compression.md): the shared-weight centroids of an f32 constant. */
static bool
parse_codebook(parser *P, ir_value *v)
{
	token at = P->tok;
	int64_t k = 0;
	next(P);
	if (!expect_punct(P, '('))
		return false;
	if (v->dtype != IR_F32) {
		err(P, &at, "a codebook needs an f32 constant, not %s",
		    ir_dtype_name(v->dtype));
		return false;
	}
	if (is_ident(P, "k")) {
		next(P);
		if (!expect_punct(P, '=') || !parse_int(P, &k))
			return false;
		if (v->data) {
			err(P, &at, "codebook(k=N) is for elided data; list "
			    "the centroids");
			return false;
		}
	} else if (expect_punct(P, '[')) {
		float c[IR_MAX_CODES + 1];
		while (!P->failed && !is_punct(P, ']')) {
			if (k && !expect_punct(P, ','))
				return false;
			if (k == IR_MAX_CODES) {
				err(P, &at, "a codebook has at most %d "
				    "centroids", IR_MAX_CODES);
				return false;
			}
			if (!parse_elem(P, c, IR_F32, k))
				return false;
			k++;
		}
		if (!expect_punct(P, ']'))
			return false;
		if (k >= 1 && k <= IR_MAX_CODES) {
			v->codebook = nn_alloc_array(P->g->weights, (size_t)k,
						     sizeof(float));
			memcpy(v->codebook, c, (size_t)k * sizeof(float));
		}
	}
	if (P->failed || !expect_punct(P, ')'))
		return false;
	if (k < 1 || k > IR_MAX_CODES) {
		err(P, &at, "a codebook has 1 to %d centroids, not %lld",
		    IR_MAX_CODES, (long long)k);
		return false;
	}
	v->ncodes = (int)k;
	return !v->data || derive_codes(P, &at, v);
}

static bool
parse_const(parser *P, const token *res)
{
	ir_dtype t;
	ir_shape s;
	next(P);
	token at = P->tok;
	if (!parse_type(P, &t, &s))
		return false;
	const char *name = res->numbered ? NULL : res->str;
	ir_value *v;
	int64_t n;
	if (!known_numel(P, &at, &s, t, &n))
		return false;
	if (is_ident(P, "elided")) {
		/* A scalar stand-in keeps ir_add_const from allocating the
		 * full (absent) data. */
		ir_shape one = {0};
		v = ir_add_const(P->g, name, t, &one, NULL);
		v->shape = s;
		v->data = NULL;
		if (!parse_elided(P, v))
			return false;
	} else {
		v = ir_add_const(P->g, name, t, &s, NULL);
		if (!parse_data(P, v->data, t, &s, n))
			return false;
		ir_const_facts(v);
	}
	if (is_ident(P, "codebook") && !parse_codebook(P, v))
		return false;
	sym_put(P, res, v);
	return true;
}

/* ------------------------------------------------------------------ */
/* Attributes */

/* An attribute float: text with at most 9 significant digits is an f32
 * (what the printer writes for ONNX's f32 attributes, and what a person
 * writes), longer text a double (the printer's 17-digit form). */
static double
attr_float(const char *text)
{
	int digits = 0;
	bool leading = true;
	for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p < '0' || *p > '9')
			continue;
		leading = leading && *p == '0';
		digits += !leading;
	}
	if (digits <= 9)
		return (double)strtof(text, NULL);
	return strtod(text, NULL);
}

static bool
is_float_tok(const parser *P)
{
	return P->tok.kind == T_FLOAT || is_ident(P, "nan") ||
	       is_ident(P, "inf");
}

/* A list attribute [..] into a; the element kind comes from the tokens,
 * or from the schema (`want`) for an empty list. */
static bool
parse_attr_list(parser *P, ir_attr *a, ir_attr_kind want)
{
	ir_graph *g = P->g;
	int cap = 0;
	next(P);
	a->kind = want == IR_ATTR_FLOATS || want == IR_ATTR_STRINGS
			  ? want : IR_ATTR_INTS;
	bool floats = false, strings = false, nums = false;
	while (!P->failed && !is_punct(P, ']')) {
		if (a->n && !expect_punct(P, ','))
			return false;
		if (a->n == cap) {
			cap = cap ? 2 * cap : 8;
			int64_t *ints = nn_alloc_array(g->arena, (size_t)cap, 8);
			double *fl = nn_alloc_array(g->arena, (size_t)cap, 8);
			const char **st = nn_alloc_array(g->arena, (size_t)cap,
							 sizeof *st);
			if (a->n) {
				memcpy(ints, a->ints, (size_t)a->n * 8);
				memcpy(fl, a->floats, (size_t)a->n * 8);
				memcpy(st, a->strings, (size_t)a->n * sizeof *st);
			}
			a->ints = ints, a->floats = fl, a->strings = st;
		}
		if (P->tok.kind == T_STRING) {
			strings = true;
			a->strings[a->n] = ir_intern(g, P->tok.str);
		} else if (P->tok.kind == T_INT || is_float_tok(P)) {
			nums = true;
			floats |= P->tok.kind != T_INT;
			a->ints[a->n] = strtoll(P->tok.str, NULL, 0);
			a->floats[a->n] = P->tok.kind == T_INT
				? (double)a->ints[a->n] : attr_float(P->tok.str);
		} else {
			expected(P, "a number or a string");
			return false;
		}
		a->n++;
		next(P);
	}
	if (P->failed)
		return false;
	next(P);
	if (strings && nums) {
		err(P, &P->tok, "list mixes strings and numbers");
		return false;
	}
	if (a->n)
		a->kind = strings ? IR_ATTR_STRINGS
			: floats || want == IR_ATTR_FLOATS ? IR_ATTR_FLOATS
			: IR_ATTR_INTS;
	return true;
}

static bool
parse_tensor_attr(parser *P, ir_attr *a)
{
	ir_tensor *t = nn_alloc(P->g->arena, sizeof *t);
	int64_t n;
	next(P);
	if (!expect_punct(P, '<'))
		return false;
	token at = P->tok;
	if (!parse_type(P, &t->dtype, &t->shape) || !expect_punct(P, ':') ||
	    !known_numel(P, &at, &t->shape, t->dtype, &n))
		return false;
	t->data = nn_alloc(P->g->arena, (size_t)n * ir_dtype_size(t->dtype));
	if (!parse_data(P, t->data, t->dtype, &t->shape, n))
		return false;
	a->kind = IR_ATTR_TENSOR;
	a->t = t;
	return expect_punct(P, '>');
}

static bool
parse_attr_value(parser *P, ir_attr *a, ir_attr_kind want)
{
	token *t = &P->tok;
	if (t->kind == T_INT) {
		a->kind = IR_ATTR_INT;
		errno = 0;
		a->i = strtoll(t->str, NULL, 0);
		a->f = (double)a->i;
		if (errno) {
			err(P, t, "integer out of range");
			return false;
		}
	} else if (is_float_tok(P)) {
		a->kind = IR_ATTR_FLOAT;
		a->f = attr_float(t->str);
	} else if (t->kind == T_STRING) {
		a->kind = IR_ATTR_STRING;
		a->s = ir_intern(P->g, t->str);
	} else if (is_punct(P, '[')) {
		return parse_attr_list(P, a, want);
	} else if (is_ident(P, "tensor")) {
		return parse_tensor_attr(P, a);
	} else {
		expected(P, "an attribute value");
		return false;
	}
	next(P);
	return true;
}

/* name=value; an int where the schema wants a float is converted, any
 * other disagreement with attrs.def is an error. Unknown names pass. */
static bool
parse_attr(parser *P, ir_node *n)
{
	token name = P->tok;
	if (name.kind != T_IDENT && name.kind != T_STRING) {
		expected(P, "an attribute name");
		return false;
	}
	name.str = nn_xstrdup(P->tok.str);
	ir_attr_kind want = ir_attr_schema(n->op, name.str);
	ir_attr a = {0};
	next(P);
	bool ok = expect_punct(P, '=') && parse_attr_value(P, &a, want);
	if (ok && want != IR_NATTR_KINDS && a.kind != want) {
		if (want == IR_ATTR_FLOAT && a.kind == IR_ATTR_INT) {
			a.kind = IR_ATTR_FLOAT;
		} else if (want == IR_ATTR_FLOATS && a.kind == IR_ATTR_INTS) {
			a.kind = IR_ATTR_FLOATS;
		} else {
			err(P, &name, "attribute '%s' of %s is %s, not %s",
			    name.str, ir_ops[n->op].name,
			    ir_attr_kind_name(want), ir_attr_kind_name(a.kind));
			ok = false;
		}
	}
	if (ok && ir_get_attr(n, name.str)) {
		err(P, &name, "attribute '%s' given twice", name.str);
		ok = false;
	}
	if (ok) {
		ir_attr *dst = ir_set_attr(P->g, n, name.str, a.kind);
		a.name = dst->name;
		*dst = a;
	}
	free(name.str);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Statements and the graph */

/* A value use: %x must be defined already. */
static bool
parse_use(parser *P, ir_value **v)
{
	if (P->tok.kind != T_VALUE) {
		expected(P, "a value");
		return false;
	}
	*v = sym_get(P, &P->tok);
	if (!*v) {
		err(P, &P->tok, "use of undefined value '%%%s'", P->tok.str);
		return false;
	}
	next(P);
	return true;
}

static bool
parse_operands(parser *P, ir_value ***in, int *nin)
{
	int cap = 0;
	if (!expect_punct(P, '('))
		return false;
	while (!P->failed && !is_punct(P, ')')) {
		if (*nin && !expect_punct(P, ','))
			return false;
		if (*nin == cap) {
			cap = cap ? 2 * cap : 8;
			*in = nn_xrealloc(*in, (size_t)cap * sizeof **in);
		}
		(*in)[*nin] = NULL;
		if (is_ident(P, "none"))
			next(P);
		else if (!parse_use(P, &(*in)[*nin]))
			return false;
		(*nin)++;
	}
	return expect_punct(P, ')');
}

/* After the operands: {attrs} : types loc("name"). */
static bool
parse_node_tail(parser *P, ir_node *n, token *res)
{
	if (is_punct(P, '{')) {
		next(P);
		while (!P->failed && !is_punct(P, '}')) {
			if (n->nattrs && !expect_punct(P, ','))
				return false;
			if (!parse_attr(P, n))
				return false;
		}
		if (!expect_punct(P, '}'))
			return false;
	}
	if (!expect_punct(P, ':'))
		return false;
	for (int i = 0, k = 0; i < n->nout; i++) {
		if (!n->out[i])
			continue;
		if (k++ && !expect_punct(P, ','))
			return false;
		if (!parse_type(P, &n->out[i]->dtype, &n->out[i]->shape))
			return false;
		if (!res[i].numbered)
			n->out[i]->name = ir_intern(P->g, res[i].str);
	}
	if (is_punct(P, ',')) {
		err(P, &P->tok, "more types than results");
		return false;
	}
	if (is_ident(P, "loc")) {
		next(P);
		if (!expect_punct(P, '('))
			return false;
		if (P->tok.kind != T_STRING) {
			expected(P, "a quoted node name");
			return false;
		}
		n->name = ir_intern(P->g, P->tok.str);
		next(P);
		return expect_punct(P, ')');
	}
	return true;
}

static bool
parse_node(parser *P, token *res, int nres)
{
	token optok = P->tok;
	char buf[64];
	if (optok.kind != T_IDENT) {
		expected(P, "an op name or 'const'");
		return false;
	}
	ir_op op = ir_op_lookup(optok.str);
	if (op == IR_NOPS) {
		err(P, &optok, "unknown op '%s'", tok_text(&optok, buf, sizeof buf));
		return false;
	}
	next(P);
	ir_value **in = NULL;
	int nin = 0;
	bool ok = parse_operands(P, &in, &nin);
	if (ok) {
		ir_node *n = ir_add_node(P->g, op, NULL, nin, in, nres);
		for (int i = 0; i < nres; i++)
			if (res[i].kind != T_VALUE)
				n->out[i] = NULL;
		ok = parse_node_tail(P, n, res);
		for (int i = 0; ok && i < nres; i++)
			if (n->out[i])
				sym_put(P, &res[i], n->out[i]);
	}
	free(in);
	return ok;
}

static bool
parse_results(parser *P, token *res, int *nres, int max)
{
	for (;;) {
		if (*nres == max) {
			err(P, &P->tok, "more than %d results", max);
			return false;
		}
		token *r = &res[*nres];
		*r = P->tok;
		r->str = NULL;
		if (is_ident(P, "_")) {
			r->kind = T_IDENT;
		} else if (P->tok.kind == T_VALUE) {
			r->str = nn_xstrdup(P->tok.str);
			(*nres)++; /* counted now, so the caller frees str */
			if (!check_fresh(P, r))
				return false;
			for (int i = 0; i < *nres - 1; i++)
				if (res[i].str && res[i].numbered == r->numbered &&
				    !strcmp(res[i].str, r->str)) {
					err(P, r, "redefinition of value '%%%s'",
					    r->str);
					return false;
				}
		} else {
			expected(P, "a value to define");
			return false;
		}
		if (r->kind != T_VALUE)
			(*nres)++;
		next(P);
		if (!is_punct(P, ','))
			return true;
		next(P);
	}
}

#define MAX_RESULTS 64

static bool
parse_stmt(parser *P)
{
	token res[MAX_RESULTS];
	int nres = 0;
	bool ok = parse_results(P, res, &nres, MAX_RESULTS) &&
		  expect_punct(P, '=');
	if (ok && is_ident(P, "const")) {
		if (nres != 1 || res[0].kind != T_VALUE) {
			err(P, &P->tok, "a constant defines exactly one value");
			ok = false;
		} else {
			ok = parse_const(P, &res[0]);
		}
	} else if (ok) {
		ok = parse_node(P, res, nres);
	}
	for (int i = 0; i < nres; i++)
		free(res[i].str);
	return ok;
}

static bool
parse_params(parser *P)
{
	if (!expect_punct(P, '('))
		return false;
	while (!P->failed && !is_punct(P, ')')) {
		if (P->g->ninputs && !expect_punct(P, ','))
			return false;
		if (P->tok.kind != T_VALUE) {
			expected(P, "an input like %x: f32[1,4]");
			return false;
		}
		token name = P->tok;
		name.str = nn_xstrdup(P->tok.str);
		ir_dtype t;
		ir_shape s;
		bool ok = check_fresh(P, &name);
		if (ok) {
			next(P);
			ok = expect_punct(P, ':') && parse_type(P, &t, &s);
		}
		if (ok)
			sym_put(P, &name, ir_add_input(P->g, name.numbered
						       ? NULL : name.str, t, &s));
		free(name.str);
		if (!ok)
			return false;
	}
	return expect_punct(P, ')');
}

/* -> (type, ...) or -> type; the types are checked against `return`. */
static bool
parse_result_types(parser *P, ir_dtype *t, ir_shape *s, int *n, int max)
{
	if (!is_punct(P, '('))
		return (*n = 1), parse_type(P, &t[0], &s[0]);
	next(P);
	while (!P->failed && !is_punct(P, ')')) {
		if (*n && !expect_punct(P, ','))
			return false;
		if (*n == max) {
			err(P, &P->tok, "more than %d graph results", max);
			return false;
		}
		if (!parse_type(P, &t[*n], &s[*n]))
			return false;
		(*n)++;
	}
	return expect_punct(P, ')');
}

static bool
parse_return(parser *P, const ir_dtype *t, const ir_shape *s, int n)
{
	token ret = P->tok;
	if (!expect_ident(P, "return"))
		return false;
	while (!P->failed && !is_punct(P, '}')) {
		if (P->g->noutputs && !expect_punct(P, ','))
			return false;
		token at = P->tok;
		ir_value *v;
		if (!parse_use(P, &v))
			return false;
		int i = P->g->noutputs;
		ir_add_output(P->g, v);
		if (i < n && (v->dtype != t[i] || !ir_shape_eq(&v->shape, &s[i]))) {
			char have[160], want[160];
			ir_shape_str(&v->shape, have, sizeof have);
			ir_shape_str(&s[i], want, sizeof want);
			err(P, &at, "type mismatch: result %d is %s%s but the "
			    "graph declares %s%s", i, ir_dtype_name(v->dtype),
			    have, ir_dtype_name(t[i]), want);
			return false;
		}
	}
	if (!P->failed && P->g->noutputs != n) {
		err(P, &ret, "the graph declares %d results but returns %d", n,
		    P->g->noutputs);
		return false;
	}
	return expect_punct(P, '}');
}

#define MAX_GRAPH_RESULTS 256

static bool
parse_graph(parser *P)
{
	ir_dtype t[MAX_GRAPH_RESULTS];
	ir_shape s[MAX_GRAPH_RESULTS];
	int nres = 0;
	if (!expect_ident(P, "graph"))
		return false;
	if (P->tok.kind != T_GLOBAL) {
		expected(P, "a graph name like @main");
		return false;
	}
	P->g->name = ir_intern(P->g, P->tok.str);
	next(P);
	if (!parse_params(P))
		return false;
	if (P->tok.kind != T_ARROW) {
		expected(P, "'->'");
		return false;
	}
	next(P);
	if (!parse_result_types(P, t, s, &nres, MAX_GRAPH_RESULTS))
		return false;
	if (is_ident(P, "opset")) {
		next(P);
		if (!expect_punct(P, '(') || !parse_int(P, &P->g->opset) ||
		    !expect_punct(P, ')'))
			return false;
	}
	if (!expect_punct(P, '{'))
		return false;
	while (!P->failed && !is_ident(P, "return")) {
		if (P->tok.kind == T_EOF) {
			expected(P, "'return'");
			return false;
		}
		if (!parse_stmt(P))
			return false;
	}
	if (!parse_return(P, t, s, nres))
		return false;
	if (P->tok.kind != T_EOF) {
		expected(P, "end of file");
		return false;
	}
	return true;
}

ir_graph *
ir_parse(const char *text, size_t len, nn_diag *d)
{
	parser P = {.p = text, .end = text + len, .line_start = text,
		    .line = 1, .d = d, .cap = 64};
	P.syms = nn_xcalloc(P.cap, sizeof *P.syms);
	P.g = ir_graph_new("main");
	next(&P);
	bool ok = parse_graph(&P) && !P.failed;
	if (!ok && !P.failed)
		err(&P, &P.tok, "syntax error"); /* every path reports; a net */
	for (size_t i = 0; i < P.cap; i++)
		free(P.syms[i].key);
	free(P.syms);
	free(P.tok.str);
	if (!ok) {
		ir_graph_free(P.g);
		return NULL;
	}
	return P.g;
}

ir_graph *
ir_parse_file(const char *path, nn_diag *d)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		nn_error(d, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0, got;
	char *buf = nn_xmalloc(cap);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = nn_xrealloc(buf, cap *= 2);
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		nn_error(d, "cannot read '%s'", path);
		free(buf);
		return NULL;
	}
	const char *file = d->file;
	if (!file)
		d->file = path;
	ir_graph *g = ir_parse(buf, n, d);
	d->file = file;
	free(buf);
	return g;
}
