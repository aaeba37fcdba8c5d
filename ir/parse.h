/* Private to parse.c and lex.c: the IR text lexer, its tokens, the
 * parser state they share, and the value symbol table. */
#ifndef NNCC_IR_PARSE_H
#define NNCC_IR_PARSE_H

#include "text.h"

typedef enum tok_kind {
	T_EOF,
	T_IDENT,  /* bare word: ops, keywords, dtypes, attribute names */
	T_VALUE,  /* %N or %name or %"name" */
	T_GLOBAL, /* @name */
	T_INT,
	T_FLOAT, /* includes -inf; bare nan and inf lex as T_IDENT */
	T_STRING,
	T_ARROW,
	T_PUNCT, /* one of ( ) [ ] { } < > , : = ? */
	T_BAD,
} tok_kind;

typedef struct token {
	tok_kind kind;
	int line, col;
	const char *start;
	size_t len;
	char *str; /* decoded text (names, strings, numbers); malloc'd */
	size_t cap;
	bool numbered; /* T_VALUE: %N */
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

/* lex.c */
void ir_lex_err(parser *P, const token *t, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void ir_lex_next(parser *P);
const char *ir_lex_tok_text(const token *t, char *buf, size_t size);
bool ir_lex_is_punct(const parser *P, char c);
bool ir_lex_is_ident(const parser *P, const char *s);
void ir_lex_expected(parser *P, const char *what);
bool ir_lex_expect_punct(parser *P, char c);
bool ir_lex_expect_ident(parser *P, const char *s);
ir_value *ir_sym_get(parser *P, const token *t);
void ir_sym_put(parser *P, const token *t, ir_value *v);
bool ir_sym_fresh(parser *P, const token *t);

/* parse_const.c */
bool ir_parse_int(parser *P, int64_t *out);
bool ir_parse_type(parser *P, ir_dtype *dt, ir_shape *s);
/* The element count of a constant of shape s, refusing unknown dims and
 * sizes over the parser's cap (reported at `at`). */
bool ir_parse_numel(parser *P, const token *at, const ir_shape *s, ir_dtype t,
                    int64_t *n);
/* Checks the data that follows before its n elements are allocated: one
 * of the forms ir_parse_data reads, a list the rest of the text can
 * hold, a splat or random fill of at most 2 GiB; false (reported) if
 * not. */
bool ir_parse_data_fits(parser *P, const token *at, ir_dtype t,
			const ir_shape *s, int64_t n);
bool ir_parse_data(parser *P, void *data, ir_dtype t, const ir_shape *s,
                   int64_t n);
bool ir_parse_const(parser *P, const token *res);

#endif
