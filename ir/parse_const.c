/* The IR text parser, types and constants: dtypes and shapes, inline
 * data, splats, the seeded random fill, elided summaries and codebooks. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* Constants the parser materializes are capped so a typo in a dim gives
 * an error instead of an out-of-memory abort. */
#define MAX_CONST_BYTES ((int64_t)1 << 32)

/* ------------------------------------------------------------------ */
/* Types and numbers */

bool
ir_parse_int(parser *P, int64_t *out)
{
	token *t = &P->tok;
	char buf[64];
	if (t->kind != T_INT) {
		ir_lex_expected(P, "an integer");
		return false;
	}
	errno = 0;
	char *e;
	long long v = strtoll(t->str, &e, 0);
	if (errno || *e) {
		ir_lex_err(P, t, "bad integer '%s'",
		           ir_lex_tok_text(t, buf, sizeof buf));
		return false;
	}
	*out = v;
	ir_lex_next(P);
	return true;
}

bool
ir_parse_type(parser *P, ir_dtype *dt, ir_shape *s)
{
	token *t = &P->tok;
	char buf[64];
	if (P->failed)
		return false;
	if (t->kind != T_IDENT) {
		ir_lex_expected(P, "a type like f32[1,4]");
		return false;
	}
	*dt = ir_dtype_parse(t->str, strlen(t->str));
	if (*dt == IR_UNDEF) {
		ir_lex_err(P, t, "unknown element type '%s'",
		           ir_lex_tok_text(t, buf, sizeof buf));
		return false;
	}
	ir_lex_next(P);
	if (!ir_lex_expect_punct(P, '['))
		return false;
	memset(s, 0, sizeof *s);
	while (!ir_lex_is_punct(P, ']')) {
		if (s->rank && !ir_lex_expect_punct(P, ','))
			return false;
		if (s->rank == IR_MAX_RANK) {
			ir_lex_err(P, t, "rank above %d", IR_MAX_RANK);
			return false;
		}
		if (ir_lex_is_punct(P, '?')) {
			s->dim[s->rank++] = -1;
			ir_lex_next(P);
			continue;
		}
		token at = *t;
		if (!ir_parse_int(P, &s->dim[s->rank]))
			return false;
		if (s->dim[s->rank++] < 0) {
			ir_lex_err(P, &at, "negative dimension");
			return false;
		}
	}
	ir_lex_next(P);
	return true;
}

bool
ir_parse_numel(parser *P, const token *at, const ir_shape *s, ir_dtype t,
               int64_t *n)
{
	*n = ir_shape_numel(s);
	if (*n < 0) {
		for (int i = 0; i < s->rank; i++)
			if (s->dim[i] < 0) {
				ir_lex_err(
				        P, at,
				        "constant data needs a static shape");
				return false;
			}
		ir_lex_err(P, at, "tensor has more than %lld elements",
		           (long long)IR_MAX_ELEMS);
		return false;
	}
	if (*n > MAX_CONST_BYTES / (int64_t)ir_dtype_size(t)) {
		ir_lex_err(P, at,
		           "constant is too large to build (%lld elements)",
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
		bool word = tk->kind == T_IDENT && (!strcmp(tk->str, "nan") ||
		                                    !strcmp(tk->str, "inf"));
		if (tk->kind != T_INT && tk->kind != T_FLOAT && !word) {
			ir_lex_expected(P, "a number");
			return false;
		}
		ir_read_float_elem(tk->str, data, t, i);
	} else if (t == IR_BOOL) {
		int64_t v = ir_lex_is_ident(P, "true")    ? 1
		            : ir_lex_is_ident(P, "false") ? 0
		            : tk->kind == T_INT ? strtoll(tk->str, NULL, 0)
		                                : -1;
		if (v != 0 && v != 1) {
			ir_lex_expected(P, "true, false, 0 or 1");
			return false;
		}
		((uint8_t *)data)[i] = (uint8_t)v;
	} else {
		if (tk->kind != T_INT) {
			ir_lex_expected(P, "an integer");
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
			ir_lex_err(P, tk, "value %s out of range for %s",
			           ir_lex_tok_text(tk, buf, sizeof buf),
			           ir_dtype_name(t));
			return false;
		}
		if (t == IR_I64)
			((int64_t *)data)[i] = neg ? sv : (int64_t)uv;
	}
	ir_lex_next(P);
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
		ir_lex_expected(P, "a number");
		return false;
	}
	*v = strtod(t->str, NULL);
	ir_lex_next(P);
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
	ir_lex_next(P);
	if (!ir_lex_expect_punct(P, '('))
		return false;
	while (!P->failed && !ir_lex_is_punct(P, ')')) {
		if (P->tok.kind != T_IDENT) {
			ir_lex_expected(P, "seed, min, max or sparsity");
			return false;
		}
		char key[16];
		snprintf(key, sizeof key, "%s", P->tok.str);
		ir_lex_next(P);
		if (!ir_lex_expect_punct(P, '='))
			return false;
		if (!strcmp(key, "seed"))
			have_seed = ir_parse_int(P, &seed);
		else if (!strcmp(key, "min"))
			parse_double(P, &lo);
		else if (!strcmp(key, "max"))
			parse_double(P, &hi);
		else if (!strcmp(key, "sparsity"))
			parse_double(P, &sparsity);
		else
			ir_lex_err(P, &at,
			           "random() takes seed, min, max and "
			           "sparsity, not '%s'",
			           key);
		if (!ir_lex_is_punct(P, ')') && !ir_lex_expect_punct(P, ','))
			return false;
	}
	if (!ir_lex_expect_punct(P, ')'))
		return false;
	if (!have_seed) {
		ir_lex_err(P, &at, "random() needs a seed");
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
bool
ir_parse_data(parser *P, void *data, ir_dtype t, const ir_shape *s, int64_t n)
{
	token at = P->tok;
	if (ir_lex_is_ident(P, "splat")) {
		/* An empty tensor has no element 0 to parse the value into. */
		unsigned char spare[8];
		ir_lex_next(P);
		if (!ir_lex_expect_punct(P, '(') ||
		    !parse_elem(P, n > 0 ? data : spare, t, 0) ||
		    !ir_lex_expect_punct(P, ')'))
			return false;
		size_t esz = ir_dtype_size(t);
		for (int64_t i = 1; i < n; i++)
			memcpy((char *)data + (size_t)i * esz, data, esz);
		return true;
	}
	if (ir_lex_is_ident(P, "random"))
		return parse_random(P, data, t, n);
	if (!ir_lex_is_punct(P, '[')) {
		ir_lex_expected(P,
		                "constant data ('[', splat, random or elided)");
		return false;
	}
	ir_lex_next(P);
	unsigned char spare[8];
	int64_t count = 0;
	while (!P->failed && !ir_lex_is_punct(P, ']')) {
		if (count && !ir_lex_expect_punct(P, ','))
			return false;
		if (!parse_elem(P, count < n ? data : spare, t,
		                count < n ? count : 0))
			return false;
		count++;
	}
	if (P->failed)
		return false;
	ir_lex_next(P);
	if (count != n) {
		char buf[160];
		ir_shape_str(s, buf, sizeof buf);
		ir_lex_err(P, &at, "%s%s needs %lld values, found %lld",
		           ir_dtype_name(t), buf, (long long)n,
		           (long long)count);
		return false;
	}
	return true;
}

/* elided(nnz=N, hash=H): a constant whose data was left out. */
static bool
parse_elided(parser *P, ir_value *v)
{
	int64_t nnz = 0;
	ir_lex_next(P);
	if (!ir_lex_expect_punct(P, '(') || !ir_lex_expect_ident(P, "nnz") ||
	    !ir_lex_expect_punct(P, '=') || !ir_parse_int(P, &nnz) ||
	    !ir_lex_expect_punct(P, ',') || !ir_lex_expect_ident(P, "hash") ||
	    !ir_lex_expect_punct(P, '='))
		return false;
	if (P->tok.kind != T_INT) {
		ir_lex_expected(P, "a hash like 0x0123456789abcdef");
		return false;
	}
	errno = 0;
	v->hash = strtoull(P->tok.str, NULL, 0);
	v->nnz = nnz;
	v->elided = true;
	ir_lex_next(P);
	return ir_lex_expect_punct(P, ')');
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
			ir_lex_err(P, at,
			           "element %lld (%g) is not in the codebook",
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
	ir_lex_next(P);
	if (!ir_lex_expect_punct(P, '('))
		return false;
	if (v->dtype != IR_F32) {
		ir_lex_err(P, &at, "a codebook needs an f32 constant, not %s",
		           ir_dtype_name(v->dtype));
		return false;
	}
	if (ir_lex_is_ident(P, "k")) {
		ir_lex_next(P);
		if (!ir_lex_expect_punct(P, '=') || !ir_parse_int(P, &k))
			return false;
		if (v->data) {
			ir_lex_err(P, &at,
			           "codebook(k=N) is for elided data; list "
			           "the centroids");
			return false;
		}
	} else if (ir_lex_expect_punct(P, '[')) {
		float c[IR_MAX_CODES + 1];
		while (!P->failed && !ir_lex_is_punct(P, ']')) {
			if (k && !ir_lex_expect_punct(P, ','))
				return false;
			if (k == IR_MAX_CODES) {
				ir_lex_err(P, &at,
				           "a codebook has at most %d "
				           "centroids",
				           IR_MAX_CODES);
				return false;
			}
			if (!parse_elem(P, c, IR_F32, k))
				return false;
			k++;
		}
		if (!ir_lex_expect_punct(P, ']'))
			return false;
		if (k >= 1 && k <= IR_MAX_CODES) {
			v->codebook = nn_alloc_array(P->g->weights, (size_t)k,
			                             sizeof(float));
			memcpy(v->codebook, c, (size_t)k * sizeof(float));
		}
	}
	if (P->failed || !ir_lex_expect_punct(P, ')'))
		return false;
	if (k < 1 || k > IR_MAX_CODES) {
		ir_lex_err(P, &at, "a codebook has 1 to %d centroids, not %lld",
		           IR_MAX_CODES, (long long)k);
		return false;
	}
	v->ncodes = (int)k;
	return !v->data || derive_codes(P, &at, v);
}

/* An inline list of n values takes at least 2n - 1 bytes of text (a digit
 * and a comma each): a list the rest of the text cannot hold is refused
 * before its n elements are allocated (an 81-byte file declaring
 * u8[4294967295] took 4 GB before it was found short). */
static bool
list_fits(parser *P, const token *at, ir_dtype t, const ir_shape *s,
	  int64_t n)
{
	int64_t room = (int64_t)(P->end - P->tok.start);

	if (!ir_lex_is_punct(P, '[') || n == 0 || 2 * n - 1 <= room)
		return true;
	char buf[160];
	ir_shape_str(s, buf, sizeof buf);
	ir_lex_err(P, at, "%s%s needs %lld values, the text holds at most "
		   "%lld", ir_dtype_name(t), buf, (long long)n,
		   (long long)(room + 1) / 2);
	return false;
}

/* The most bytes a splat or random fill may make: as much as an ONNX file
 * can hold inline (protobuf's 2 GiB). */
#define FILL_MAX_BYTES ((int64_t)1 << 31)

bool
ir_parse_data_fits(parser *P, const token *at, ir_dtype t, const ir_shape *s,
	  int64_t n)
{
	bool fill = ir_lex_is_ident(P, "splat") || ir_lex_is_ident(P, "random");
	int64_t bytes = n * (int64_t)ir_dtype_size(t);
	char buf[160];

	if (!fill && !ir_lex_is_punct(P, '[')) {
		ir_lex_expected(P, "constant data ('[', splat, random or "
				"elided)");
		return false;
	}
	if (!fill)
		return list_fits(P, at, t, s, n);
	if (bytes <= FILL_MAX_BYTES)
		return true;
	ir_shape_str(s, buf, sizeof buf);
	ir_lex_err(P, at, "%s%s is %lld bytes; a splat or random constant "
		   "holds at most %lld", ir_dtype_name(t), buf,
		   (long long)bytes, (long long)FILL_MAX_BYTES);
	return false;
}

bool
ir_parse_const(parser *P, const token *res)
{
	ir_dtype t;
	ir_shape s;
	ir_lex_next(P);
	token at = P->tok;
	if (!ir_parse_type(P, &t, &s))
		return false;
	const char *name = res->numbered ? NULL : res->str;
	ir_value *v;
	int64_t n;
	if (!ir_parse_numel(P, &at, &s, t, &n))
		return false;
	if (ir_lex_is_ident(P, "elided")) {
		/* A scalar stand-in keeps ir_add_const from allocating the
		 * full (absent) data. */
		ir_shape one = {0};
		v = ir_add_const(P->g, name, t, &one, NULL);
		v->shape = s;
		v->data = NULL;
		if (!parse_elided(P, v))
			return false;
	} else {
		if (!ir_parse_data_fits(P, &at, t, &s, n))
			return false;
		v = ir_add_const(P->g, name, t, &s, NULL);
		if (!ir_parse_data(P, v->data, t, &s, n))
			return false;
		ir_const_facts(v);
	}
	if (ir_lex_is_ident(P, "codebook") && !parse_codebook(P, v))
		return false;
	ir_sym_put(P, res, v);
	return true;
}
