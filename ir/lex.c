/* The IR text lexer (tokens with line:col) and the parser's symbol table
 * of values by name. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

void
ir_lex_err(parser *P, const token *t, const char *fmt, ...)
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
			ir_lex_err(P, t, "bad escape '\\%c' in string",
			           e ? e : ' ');
			return false;
		}
	}
	if (P->p >= P->end || *P->p != '"') {
		ir_lex_err(P, t, "unterminated string");
		return false;
	}
	P->p++;
	if (memchr(t->str ? t->str : "", 0, t->len)) {
		ir_lex_err(P, t, "string contains a NUL byte");
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

void
ir_lex_next(parser *P)
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
const char *
ir_lex_tok_text(const token *t, char *buf, size_t size)
{
	if (t->kind == T_EOF)
		return "end of file";
	size_t n = t->len < size - 1 ? t->len : size - 1;
	memcpy(buf, t->start, n);
	buf[n] = 0;
	return buf;
}

bool
ir_lex_is_punct(const parser *P, char c)
{
	return P->tok.kind == T_PUNCT && P->tok.str[0] == c;
}

bool
ir_lex_is_ident(const parser *P, const char *s)
{
	return P->tok.kind == T_IDENT && strcmp(P->tok.str, s) == 0;
}

void
ir_lex_expected(parser *P, const char *what)
{
	char buf[64];
	ir_lex_err(P, &P->tok, "expected %s, found '%s'", what,
	           ir_lex_tok_text(&P->tok, buf, sizeof buf));
}

bool
ir_lex_expect_punct(parser *P, char c)
{
	if (P->failed)
		return false;
	if (!ir_lex_is_punct(P, c)) {
		char what[8] = {'\'', c, '\'', 0};
		ir_lex_expected(P, what);
		return false;
	}
	ir_lex_next(P);
	return true;
}

bool
ir_lex_expect_ident(parser *P, const char *s)
{
	if (P->failed)
		return false;
	if (!ir_lex_is_ident(P, s)) {
		char what[64];
		snprintf(what, sizeof what, "'%s'", s);
		ir_lex_expected(P, what);
		return false;
	}
	ir_lex_next(P);
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

ir_value *
ir_sym_get(parser *P, const token *t)
{
	char key[600];
	sym_key(t, key, sizeof key);
	return lookup_slot(P, key)->v;
}

void
ir_sym_put(parser *P, const token *t, ir_value *v)
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
bool
ir_sym_fresh(parser *P, const token *t)
{
	if (ir_sym_get(P, t)) {
		ir_lex_err(P, t, "redefinition of value '%%%s'", t->str);
		return false;
	}
	return true;
}
