/* .npy read and write (format versions 1-3, little-endian, C order) for
 * test harnesses and applications. Depends on libc only. */
#include "nnrt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20)

struct dtype_name {
	int dtype;
	const char *descr; /* without the byte-order character */
	size_t size;
};

static const struct dtype_name dtypes[] = {
	{ NNRT_F32, "f4", 4 }, { NNRT_F64, "f8", 8 }, { NNRT_F16, "f2", 2 },
	{ NNRT_I8, "i1", 1 },  { NNRT_I16, "i2", 2 }, { NNRT_I32, "i4", 4 },
	{ NNRT_I64, "i8", 8 }, { NNRT_U8, "u1", 1 },  { NNRT_U16, "u2", 2 },
	{ NNRT_U32, "u4", 4 }, { NNRT_U64, "u8", 8 }, { NNRT_BOOL, "b1", 1 },
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

static int
fail(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (err && errsize) {
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return -1;
}

size_t
nnrt_dtype_size(int dtype)
{
	size_t i;

	for (i = 0; i < NDTYPES; i++)
		if (dtypes[i].dtype == dtype)
			return dtypes[i].size;
	return 0;
}

const char *
nnrt_dtype_name(int dtype)
{
	static const char *names[] = {
		[NNRT_F32] = "f32", [NNRT_U8] = "u8",   [NNRT_I8] = "i8",
		[NNRT_U16] = "u16", [NNRT_I16] = "i16", [NNRT_I32] = "i32",
		[NNRT_I64] = "i64", [NNRT_BOOL] = "bool", [NNRT_F16] = "f16",
		[NNRT_F64] = "f64", [NNRT_U32] = "u32", [NNRT_U64] = "u64",
	};

	if (dtype <= 0 || dtype > NNRT_U64 || !names[dtype])
		return "?";
	return names[dtype];
}

int64_t
nnrt_array_numel(const nnrt_array *a)
{
	int64_t n = 1;
	int i;

	for (i = 0; i < a->rank; i++)
		n *= a->dim[i];
	return n;
}

void
nnrt_array_free(nnrt_array *a)
{
	free(a->data);
	a->data = NULL;
	a->nbytes = 0;
}

/* A cursor over the header's Python dict literal. */
struct cur {
	const char *p, *end;
};

static void
skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int
eat(struct cur *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

/* A quoted string into buf; 0 if malformed or too long. */
static int
parse_str(struct cur *c, char *buf, size_t size)
{
	char q;
	size_t n = 0;

	skip_ws(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return 0;
	q = *c->p++;
	while (c->p < c->end && *c->p != q) {
		if (n + 1 >= size)
			return 0;
		buf[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return 0;
	c->p++;
	buf[n] = 0;
	return 1;
}

/* A tuple of non-negative ints: "()", "(3,)", "(2, 3)". */
static int
parse_shape(struct cur *c, nnrt_array *a, char *err, size_t errsize)
{
	/* Left-to-right prefix products stay within 2^40, so no later
	 * product of these dims (nnrt_array_numel) can overflow. */
	long long numel = 1;

	a->rank = 0;
	if (!eat(c, '('))
		return fail(err, errsize, "malformed shape in header");
	for (;;) {
		long long v = 0;
		int digits = 0;

		if (eat(c, ')'))
			return 0;
		skip_ws(c);
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			if (v > (1LL << 40))
				return fail(err, errsize, "dimension too large");
			v = v * 10 + (*c->p++ - '0');
			digits++;
		}
		if (!digits)
			return fail(err, errsize, "malformed shape in header");
		if (a->rank == 8)
			return fail(err, errsize, "rank above 8 unsupported");
		if (v > 0 && numel > (1LL << 40) / v)
			return fail(err, errsize, "array too large");
		numel *= v;
		a->dim[a->rank++] = v;
		if (!eat(c, ',') && !(skip_ws(c), c->p < c->end && *c->p == ')'))
			return fail(err, errsize, "malformed shape in header");
	}
}

static int
parse_descr(const char *descr, nnrt_array *a, char *err, size_t errsize)
{
	size_t i;

	if (descr[0] == '>')
		return fail(err, errsize,
			    "big-endian dtype '%s' unsupported", descr);
	if (descr[0] != '<' && descr[0] != '|')
		return fail(err, errsize, "unsupported dtype '%s'", descr);
	for (i = 0; i < NDTYPES; i++) {
		if (strcmp(descr + 1, dtypes[i].descr) != 0)
			continue;
		/* '|' means "no byte order": only right for 1-byte types */
		if (descr[0] == '|' && dtypes[i].size != 1)
			break;
		a->dtype = dtypes[i].dtype;
		return 0;
	}
	return fail(err, errsize, "unsupported dtype '%s'", descr);
}

static int
parse_value(struct cur *c, const char *key, nnrt_array *a, int *seen,
	    char *err, size_t errsize)
{
	char buf[64];

	skip_ws(c);
	if (strcmp(key, "descr") == 0) {
		if (!parse_str(c, buf, sizeof buf))
			return fail(err, errsize, "malformed descr in header");
		*seen |= 1;
		return parse_descr(buf, a, err, errsize);
	}
	if (strcmp(key, "fortran_order") == 0) {
		*seen |= 2;
		if ((size_t)(c->end - c->p) >= 5 && !memcmp(c->p, "False", 5)) {
			c->p += 5;
			return 0;
		}
		if ((size_t)(c->end - c->p) >= 4 && !memcmp(c->p, "True", 4))
			return fail(err, errsize,
				    "fortran_order arrays unsupported");
		return fail(err, errsize, "malformed fortran_order");
	}
	if (strcmp(key, "shape") == 0) {
		*seen |= 4;
		return parse_shape(c, a, err, errsize);
	}
	return fail(err, errsize, "unexpected key '%s' in header", key);
}

static int
parse_header(const char *h, size_t len, nnrt_array *a, char *err,
	     size_t errsize)
{
	struct cur c = { h, h + len };
	char key[32];
	int seen = 0;

	if (!eat(&c, '{'))
		return fail(err, errsize, "malformed header");
	while (!eat(&c, '}')) {
		if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
			return fail(err, errsize, "malformed header");
		if (parse_value(&c, key, a, &seen, err, errsize))
			return -1;
		if (!eat(&c, ',') &&
		    !(skip_ws(&c), c.p < c.end && *c.p == '}'))
			return fail(err, errsize, "malformed header");
	}
	if (seen != 7)
		return fail(err, errsize, "header lacks descr, fortran_order "
			    "or shape");
	return 0;
}

/* Reads magic, version and header length; leaves f at the header. */
static int
read_preamble(FILE *f, size_t *hlen, char *err, size_t errsize)
{
	unsigned char b[10];
	int major, minor;

	if (fread(b, 1, 8, f) != 8 || memcmp(b, NPY_MAGIC, 6) != 0)
		return fail(err, errsize, "not a .npy file (bad magic)");
	major = b[6];
	minor = b[7];
	if (b[6] < 1 || b[6] > 3)
		return fail(err, errsize, "unsupported .npy version %d.%d",
			    b[6], b[7]);
	if (major == 1) {
		if (fread(b, 1, 2, f) != 2)
			return fail(err, errsize, "truncated header");
		*hlen = b[0] | (size_t)b[1] << 8;
	} else {
		if (fread(b, 1, 4, f) != 4)
			return fail(err, errsize, "truncated header");
		*hlen = b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 |
			(size_t)b[3] << 24;
	}
	/* versions 2 and 3 have a 4-byte length: a version 1 file with its
	 * version byte changed reads its header text as the length */
	if (*hlen > NPY_MAX_HEADER)
		return fail(err, errsize, "bad .npy version %d.%d header: "
			    "length %zu is more than %u bytes", major, minor,
			    *hlen, NPY_MAX_HEADER);
	return 0;
}

/* Reads up to a->nbytes into a->data, growing the buffer as bytes arrive:
 * a short file that claims a huge shape must not allocate that shape.
 * Returns the count read; a->data is NULL only when out of memory. */
static size_t
read_grow(FILE *f, nnrt_array *a)
{
	size_t cap = a->nbytes < (1u << 20) ? a->nbytes : (1u << 20);
	size_t len = 0, n;
	void *p;

	a->data = malloc(cap ? cap : 1);
	while (a->data && len < a->nbytes) {
		if (len == cap) {
			cap = cap > a->nbytes / 2 ? a->nbytes : 2 * cap;
			p = realloc(a->data, cap);
			if (!p) {
				free(a->data);
				a->data = NULL;
				break;
			}
			a->data = p;
		}
		n = fread((char *)a->data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	return len;
}

static int
read_data(FILE *f, nnrt_array *a, char *err, size_t errsize)
{
	int64_t n = nnrt_array_numel(a);
	size_t sz = nnrt_dtype_size(a->dtype);
	char extra;

	if (n > ((int64_t)1 << 40) / (int64_t)sz)
		return fail(err, errsize, "array too large");
	a->nbytes = (size_t)n * sz;
	if (read_grow(f, a) != a->nbytes) {
		if (!a->data)
			return fail(err, errsize, "out of memory");
		return fail(err, errsize, "truncated data (expected %zu bytes)",
			    a->nbytes);
	}
	if (fread(&extra, 1, 1, f) == 1)
		return fail(err, errsize, "trailing bytes after the data");
	return 0;
}

static int
read_file(FILE *f, nnrt_array *a, char *err, size_t errsize)
{
	size_t hlen = 0;
	char *h;
	int rc;

	if (read_preamble(f, &hlen, err, errsize))
		return -1;
	h = malloc(hlen + 1);
	if (!h)
		return fail(err, errsize, "out of memory");
	if (fread(h, 1, hlen, f) != hlen) {
		free(h);
		return fail(err, errsize, "truncated header");
	}
	rc = parse_header(h, hlen, a, err, errsize);
	free(h);
	if (rc)
		return -1;
	return read_data(f, a, err, errsize);
}

int
nnrt_npy_fread(void *f, nnrt_array *a, char *err, size_t errsize)
{
	int rc;

	memset(a, 0, sizeof *a);
	rc = read_file(f, a, err, errsize);
	if (rc)
		nnrt_array_free(a);
	return rc;
}

int
nnrt_npy_read_mem(const void *data, size_t size, nnrt_array *a, char *err,
		  size_t errsize)
{
	FILE *f;
	int rc;

	memset(a, 0, sizeof *a);
	/* glibc's fmemopen refuses an empty buffer, which is a short file. */
	if (size == 0)
		return fail(err, errsize, "not a .npy file (empty)");
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return fail(err, errsize, "cannot read memory: %s",
			    strerror(errno));
	rc = nnrt_npy_fread(f, a, err, errsize);
	fclose(f);
	return rc;
}

int
nnrt_npy_read(const char *path, nnrt_array *a, char *err, size_t errsize)
{
	FILE *f;
	int rc;

	memset(a, 0, sizeof *a);
	f = fopen(path, "rb");
	if (!f)
		return fail(err, errsize, "cannot open: %s", strerror(errno));
	rc = nnrt_npy_fread(f, a, err, errsize);
	fclose(f);
	return rc;
}

/* The header dict, padded with spaces and '\n' so that the data starts at
 * a multiple of 64 bytes (what numpy writes); returns its length. */
static size_t
format_header(const nnrt_array *a, const char *descr, char *buf,
	      size_t size, size_t prefix)
{
	size_t n, total;
	int i;

	n = (size_t)snprintf(buf, size, "{'descr': '%s', 'fortran_order': "
			     "False, 'shape': (", descr);
	for (i = 0; i < a->rank; i++)
		n += (size_t)snprintf(buf + n, size - n, "%lld%s",
				      (long long)a->dim[i],
				      a->rank == 1 || i + 1 < a->rank ? ", "
								     : "");
	if (a->rank == 1)
		n -= 1; /* "(3,)" */
	n += (size_t)snprintf(buf + n, size - n, "), }");
	total = (prefix + n + 1 + 63) / 64 * 64 - prefix;
	memset(buf + n, ' ', total - 1 - n);
	buf[total - 1] = '\n';
	return total;
}

int
nnrt_npy_fwrite(void *stream, const nnrt_array *a, char *err, size_t errsize)
{
	char descr[8], hdr[512];
	unsigned char pre[10];
	size_t i, hlen, sz = nnrt_dtype_size(a->dtype);
	FILE *f = stream;

	if (!sz || a->rank < 0 || a->rank > 8)
		return fail(err, errsize, "unsupported dtype or rank");
	if ((int64_t)a->nbytes != nnrt_array_numel(a) * (int64_t)sz)
		return fail(err, errsize, "nbytes does not match the shape");
	for (i = 0; i < NDTYPES && dtypes[i].dtype != a->dtype; i++)
		;
	snprintf(descr, sizeof descr, "%c%s", sz == 1 ? '|' : '<',
		 dtypes[i].descr);
	hlen = format_header(a, descr, hdr, sizeof hdr, 10);
	memcpy(pre, NPY_MAGIC "\x01\x00", 8);
	pre[8] = (unsigned char)(hlen & 0xff);
	pre[9] = (unsigned char)(hlen >> 8);
	if (fwrite(pre, 1, 10, f) != 10 || fwrite(hdr, 1, hlen, f) != hlen ||
	    fwrite(a->data, 1, a->nbytes, f) != a->nbytes)
		return fail(err, errsize, "write failed: %s", strerror(errno));
	return 0;
}

int
nnrt_npy_write(const char *path, const nnrt_array *a, char *err,
	       size_t errsize)
{
	FILE *f;
	int rc;

	if (!nnrt_dtype_size(a->dtype) || a->rank < 0 || a->rank > 8)
		return fail(err, errsize, "unsupported dtype or rank");
	f = fopen(path, "wb");
	if (!f)
		return fail(err, errsize, "cannot create: %s", strerror(errno));
	rc = nnrt_npy_fwrite(f, a, err, errsize);
	if (fclose(f) != 0 && rc == 0)
		rc = fail(err, errsize, "write failed: %s", strerror(errno));
	return rc;
}
