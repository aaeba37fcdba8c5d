/* TensorProto decoding: element types, dims with overflow checks, data from
 * raw_data, the typed fields, or an external file next to the model. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

/* Where a tensor's bytes are. */
typedef enum src {
	SRC_NONE,
	SRC_RAW,
	SRC_EXTERNAL,
	SRC_FLOAT,
	SRC_INT32,
	SRC_INT64,
	SRC_DOUBLE,
	SRC_UINT64,
	SRC_STRING,
} src;

static const char *const src_names[] = {
	[SRC_NONE] = "nothing",		[SRC_RAW] = "raw_data",
	[SRC_EXTERNAL] = "external data", [SRC_FLOAT] = "float_data",
	[SRC_INT32] = "int32_data",	[SRC_INT64] = "int64_data",
	[SRC_DOUBLE] = "double_data",	[SRC_UINT64] = "uint64_data",
	[SRC_STRING] = "string_data",
};

ir_dtype
fe_dtype(fe_ctx *c, int32_t elem_type, const char *what)
{
	static const char *const onnx_names[] = {
		[0] = "undefined", [8] = "string", [14] = "complex64",
		[15] = "complex128",
	};
	if (elem_type > 0 && elem_type < IR_NDTYPE &&
	    ir_dtype_size((ir_dtype)elem_type) > 0)
		return (ir_dtype)elem_type;
	if (elem_type >= 0 && elem_type <= 15 && onnx_names[elem_type])
		nn_error(c->d, "%s: element type %s is not supported", what,
			 onnx_names[elem_type]);
	else
		nn_error(c->d, "%s: unknown element type %d", what,
			 (int)elem_type);
	return IR_UNDEF;
}

bool
fe_check_dims(fe_ctx *c, const int64_t *dims, size_t n, const char *what,
	      ir_shape *out)
{
	if (n > IR_MAX_RANK) {
		nn_error(c->d, "%s: rank %zu exceeds the maximum of %d", what,
			 n, IR_MAX_RANK);
		return false;
	}
	out->rank = (int)n;
	for (size_t i = 0; i < n; i++) {
		if (dims[i] < 0) {
			nn_error(c->d, "%s: dimension %zu is negative (%lld)",
				 what, i, (long long)dims[i]);
			return false;
		}
		out->dim[i] = dims[i];
	}
	if (ir_shape_numel(out) < 0) {
		char buf[256];
		ir_shape_str(out, buf, sizeof buf);
		nn_error(c->d,
			 "%s: dimensions %s have more than 2^40 elements",
			 what, buf);
		return false;
	}
	return true;
}

/* The typed field ONNX uses for dtype t. */
static src
typed_src(ir_dtype t)
{
	switch (t) {
	case IR_F32: return SRC_FLOAT;
	case IR_F64: return SRC_DOUBLE;
	case IR_I64: return SRC_INT64;
	case IR_U32: case IR_U64: return SRC_UINT64;
	default: return SRC_INT32;
	}
}

static size_t
typed_count(const Onnx__TensorProto *t, src s)
{
	switch (s) {
	case SRC_FLOAT: return t->n_float_data;
	case SRC_INT32: return t->n_int32_data;
	case SRC_INT64: return t->n_int64_data;
	case SRC_DOUBLE: return t->n_double_data;
	case SRC_UINT64: return t->n_uint64_data;
	case SRC_STRING: return t->n_string_data;
	default: return 0;
	}
}

/* Finds the one place holding t's data; false if it is ambiguous. */
static bool
find_src(fe_ctx *c, const Onnx__TensorProto *t, const char *what, src *out)
{
	*out = SRC_NONE;
	if (t->has_data_location &&
	    t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		*out = SRC_EXTERNAL;
	else if (t->has_raw_data)
		*out = SRC_RAW;
	for (src s = SRC_FLOAT; s <= SRC_STRING; s++) {
		if (typed_count(t, s) == 0)
			continue;
		if (*out != SRC_NONE) {
			nn_error(c->d, "%s: data is stored in both %s and %s",
				 what, src_names[*out], src_names[s]);
			return false;
		}
		*out = s;
	}
	return true;
}

/* Checks type, dims and that the data source holds exactly numel values;
 * nothing is allocated before this passes. */
static bool
tensor_layout(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	      ir_tensor *out, int64_t *nbytes, src *s)
{
	if (t->segment) {
		nn_error(c->d, "%s: segmented tensors are not supported", what);
		return false;
	}
	out->dtype = fe_dtype(c, t->has_data_type ? t->data_type : 0, what);
	if (out->dtype == IR_UNDEF ||
	    !fe_check_dims(c, t->dims, t->n_dims, what, &out->shape) ||
	    !find_src(c, t, what, s))
		return false;
	int64_t numel = ir_shape_numel(&out->shape);
	*nbytes = numel * (int64_t)ir_dtype_size(out->dtype);
	if (*s == SRC_NONE && numel > 0) {
		nn_error(c->d, "%s has no data", what);
		return false;
	}
	if (*s == SRC_RAW && (int64_t)t->raw_data.len != *nbytes) {
		nn_error(c->d,
			 "%s: raw_data has %zu bytes, expected %lld "
			 "(%lld elements of %s)",
			 what, t->raw_data.len, (long long)*nbytes,
			 (long long)numel, ir_dtype_name(out->dtype));
		return false;
	}
	if (*s >= SRC_FLOAT && *s != typed_src(out->dtype)) {
		nn_error(c->d, "%s: %s values cannot be stored in %s", what,
			 ir_dtype_name(out->dtype), src_names[*s]);
		return false;
	}
	if (*s >= SRC_FLOAT && (int64_t)typed_count(t, *s) != numel) {
		nn_error(c->d, "%s: %s has %zu values, expected %lld", what,
			 src_names[*s], typed_count(t, *s), (long long)numel);
		return false;
	}
	return true;
}

/* int32_data holds every type narrower than 32 bits, one per element. */
static void
unpack_int32(const int32_t *v, int64_t n, ir_dtype t, void *dst)
{
	for (int64_t i = 0; i < n; i++) {
		switch (t) {
		case IR_BOOL: ((uint8_t *)dst)[i] = v[i] != 0; break;
		case IR_I8: ((int8_t *)dst)[i] = (int8_t)v[i]; break;
		case IR_U8: ((uint8_t *)dst)[i] = (uint8_t)v[i]; break;
		case IR_I16: ((int16_t *)dst)[i] = (int16_t)v[i]; break;
		case IR_U16: case IR_F16: case IR_BF16:
			((uint16_t *)dst)[i] = (uint16_t)v[i];
			break;
		case IR_I32: ((int32_t *)dst)[i] = v[i]; break;
		default: nn_unreachable();
		}
	}
}

static void
fill_typed(const Onnx__TensorProto *t, src s, ir_dtype dt, int64_t numel,
	   void *dst)
{
	switch (s) {
	case SRC_FLOAT: memcpy(dst, t->float_data, numel * 4); break;
	case SRC_DOUBLE: memcpy(dst, t->double_data, numel * 8); break;
	case SRC_INT64: memcpy(dst, t->int64_data, numel * 8); break;
	case SRC_INT32: unpack_int32(t->int32_data, numel, dt, dst); break;
	case SRC_UINT64:
		if (dt == IR_U64)
			memcpy(dst, t->uint64_data, numel * 8);
		else
			for (int64_t i = 0; i < numel; i++)
				((uint32_t *)dst)[i] =
					(uint32_t)t->uint64_data[i];
		break;
	default: nn_unreachable();
	}
}

/* Resolves an external location inside the model's folder, refusing
 * absolute paths and anything that leaves the folder, lexically (..) or
 * through a symlink. Returns a malloc'd path or NULL. */
static char *
external_path(fe_ctx *c, const char *loc, const char *what)
{
	if (!c->path) {
		nn_error(c->d, "%s: external data '%s' needs a model file (the "
			 "model was read from memory)", what, loc);
		return NULL;
	}
	if (!c->dir) {
		char *copy = nn_xstrdup(c->path);
		char *slash = strrchr(copy, '/');
		const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
		if (slash && slash != copy)
			*slash = '\0';
		char *real = realpath(dir, NULL);
		free(copy);
		if (!real) {
			nn_error(c->d, "%s: cannot resolve the model's folder: %s",
				 what, strerror(errno));
			return NULL;
		}
		c->dir = nn_strdup(c->tmp, real);
		free(real);
	}
	int depth = 0;
	bool escapes = loc[0] == '/';
	for (const char *p = loc; *p && !escapes;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			escapes = --depth < 0;
		else if (n > 0 && !(n == 1 && p[0] == '.'))
			depth++;
		p += n + (p[n] == '/');
	}
	if (escapes) {
		nn_error(c->d,
			 "%s: external data location '%s' is outside the "
			 "model's folder",
			 what, loc);
		return NULL;
	}
	size_t dl = strlen(c->dir);
	char *full = nn_xmalloc(dl + strlen(loc) + 2);
	sprintf(full, "%s/%s", c->dir, loc);
	char *real = realpath(full, NULL);
	free(full);
	if (!real) {
		nn_error(c->d, "%s: cannot open external data file '%s': %s",
			 what, loc, strerror(errno));
		return NULL;
	}
	if (strncmp(real, c->dir, dl) != 0 ||
	    (real[dl] != '/' && strcmp(c->dir, "/") != 0)) {
		nn_error(c->d,
			 "%s: external data location '%s' resolves outside the "
			 "model's folder",
			 what, loc);
		free(real);
		return NULL;
	}
	return real;
}

/* A non-negative decimal int64 (offset and length keys). */
static bool
parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0)
		return false;
	*out = v;
	return true;
}

typedef struct ext_ref {
	const char *loc;
	int64_t offset, length;
} ext_ref;

static bool
external_keys(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	      ext_ref *r)
{
	r->loc = NULL;
	r->offset = 0;
	r->length = -1;
	for (size_t i = 0; i < t->n_external_data; i++) {
		const char *k = fe_str(t->external_data[i]->key);
		const char *v = fe_str(t->external_data[i]->value);
		bool ok = true;
		if (strcmp(k, "location") == 0)
			r->loc = v;
		else if (strcmp(k, "offset") == 0)
			ok = parse_i64(v, &r->offset);
		else if (strcmp(k, "length") == 0)
			ok = parse_i64(v, &r->length);
		if (!ok) {
			nn_error(c->d, "%s: bad external data %s '%s'", what,
				 k, v);
			return false;
		}
	}
	if (!r->loc || !*r->loc) {
		nn_error(c->d, "%s: external data has no location", what);
		return false;
	}
	return true;
}

/* Opens t's external data file and checks that it holds nbytes at the
 * offset, before anything of that size is allocated: a huge shape backed
 * by a short file is an error, not an allocation. Returns the file at the
 * offset, or NULL after an error. */
static FILE *
open_external(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	      int64_t nbytes)
{
	ext_ref r;
	if (!external_keys(c, t, what, &r))
		return NULL;
	if (r.length >= 0 && r.length != nbytes) {
		nn_error(c->d,
			 "%s: external data length %lld does not match its "
			 "%lld bytes",
			 what, (long long)r.length, (long long)nbytes);
		return NULL;
	}
	char *path = external_path(c, r.loc, what);
	if (!path)
		return NULL;
	const char *why;
	FILE *f = nn_in_open(path, &why);
	free(path);
	if (!f) {
		nn_error(c->d, "%s: cannot open external data file '%s': %s",
			 what, r.loc, why);
		return NULL;
	}
	int64_t size = -1;
	if (fseeko(f, 0, SEEK_END) == 0)
		size = ftello(f);
	bool ok = size >= 0 && r.offset <= size && nbytes <= size - r.offset;
	if (!ok)
		nn_error(c->d,
			 "%s: external data file '%s' is too short (needs %lld "
			 "bytes at offset %lld, has %lld)",
			 what, r.loc, (long long)nbytes, (long long)r.offset,
			 (long long)size);
	else if (fseeko(f, r.offset, SEEK_SET) != 0) {
		nn_error(c->d, "%s: cannot read external data file '%s'", what,
			 r.loc);
		ok = false;
	}
	if (!ok) {
		fclose(f);
		return NULL;
	}
	return f;
}

/* Fills dst from t; ext is the external data file open_external
 * checked (taken: closed here), NULL unless s is SRC_EXTERNAL. */
static bool
tensor_fill(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	    const ir_tensor *tt, int64_t nbytes, src s, FILE *ext, void *dst)
{
	int64_t numel = ir_shape_numel(&tt->shape);
	switch (s) {
	case SRC_NONE:
		return true;
	case SRC_STRING:
		nn_unreachable(); /* fe_dtype refused IR_STRING */
	case SRC_RAW:
		/* ONNX raw_data is little-endian, as is every host nncc
		 * targets. */
		if (nbytes)
			memcpy(dst, t->raw_data.data, nbytes);
		break;
	case SRC_EXTERNAL: {
		bool ok = fread(dst, 1, nbytes, ext) == (size_t)nbytes;
		fclose(ext);
		if (!ok) {
			nn_error(c->d, "%s: cannot read its external data",
				 what);
			return false;
		}
		break;
	}
	default:
		fill_typed(t, s, tt->dtype, numel, dst);
		return true;
	}
	if (tt->dtype == IR_BOOL)
		for (int64_t i = 0; i < numel; i++)
			((uint8_t *)dst)[i] = ((uint8_t *)dst)[i] != 0;
	return true;
}

/* tensor_layout, then the external data file checked (*ext, or NULL). */
static bool
tensor_check(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	     ir_tensor *out, int64_t *nbytes, src *s, FILE **ext)
{
	*ext = NULL;
	if (!tensor_layout(c, t, what, out, nbytes, s))
		return false;
	if (*s == SRC_EXTERNAL &&
	    !(*ext = open_external(c, t, what, *nbytes)))
		return false;
	return true;
}

bool
fe_tensor(fe_ctx *c, const Onnx__TensorProto *t, const char *what,
	  ir_tensor *out)
{
	int64_t nbytes;
	src s;
	FILE *ext;
	if (!tensor_check(c, t, what, out, &nbytes, &s, &ext))
		return false;
	out->data = nn_alloc(c->g->weights, (size_t)nbytes);
	return tensor_fill(c, t, what, out, nbytes, s, ext, out->data);
}

ir_value *
fe_initializer(fe_ctx *c, const Onnx__TensorProto *t)
{
	const char *name = fe_str(t->name);
	if (!*name) {
		nn_error(c->d, "an initializer has no name");
		return NULL;
	}
	char what[300];
	snprintf(what, sizeof what, "initializer '%s'", name);
	ir_tensor tt;
	int64_t nbytes;
	src s;
	FILE *ext;
	if (!tensor_check(c, t, what, &tt, &nbytes, &s, &ext))
		return NULL;
	ir_value *v = ir_add_const(c->g, name, tt.dtype, &tt.shape, NULL);
	if (!tensor_fill(c, t, what, &tt, nbytes, s, ext, v->data))
		return NULL;
	ir_const_facts(v); /* filled in place, after ir_add_const */
	return v;
}
