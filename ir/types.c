/* Element types and shapes: names, sizes, numpy broadcasting, half-float
 * conversions and type-generic element access. */
#include <math.h>
#include <string.h>

#include "ir.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[IR_NDTYPE] = {
	[IR_F32] = {"f32", 4},	 [IR_F64] = {"f64", 8},	  [IR_F16] = {"f16", 2},
	[IR_BF16] = {"bf16", 2}, [IR_I8] = {"i8", 1},	  [IR_I16] = {"i16", 2},
	[IR_I32] = {"i32", 4},	 [IR_I64] = {"i64", 8},	  [IR_U8] = {"u8", 1},
	[IR_U16] = {"u16", 2},	 [IR_U32] = {"u32", 4},	  [IR_U64] = {"u64", 8},
	[IR_BOOL] = {"bool", 1},
};

size_t
ir_dtype_size(ir_dtype t)
{
	if ((int)t <= 0 || t >= IR_NDTYPE)
		return 0;
	return dtypes[t].size;
}

int
ir_code_bits(int ncodes)
{
	int b = 1;

	while ((1 << b) < ncodes)
		b++;
	return b;
}

const char *
ir_dtype_name(ir_dtype t)
{
	if ((int)t <= 0 || t >= IR_NDTYPE || !dtypes[t].name)
		return t == IR_STRING ? "string" : "undef";
	return dtypes[t].name;
}

ir_dtype
ir_dtype_parse(const char *s, size_t len)
{
	for (int t = 1; t < IR_NDTYPE; t++)
		if (dtypes[t].name && strlen(dtypes[t].name) == len &&
		    memcmp(dtypes[t].name, s, len) == 0)
			return (ir_dtype)t;
	return IR_UNDEF;
}

bool
ir_dtype_is_float(ir_dtype t)
{
	return t == IR_F32 || t == IR_F64 || t == IR_F16 || t == IR_BF16;
}

bool
ir_dtype_is_unsigned(ir_dtype t)
{
	return t == IR_U8 || t == IR_U16 || t == IR_U32 || t == IR_U64 ||
	       t == IR_BOOL;
}

bool
ir_dtype_is_int(ir_dtype t)
{
	switch (t) {
	case IR_I8: case IR_I16: case IR_I32: case IR_I64:
	case IR_U8: case IR_U16: case IR_U32: case IR_U64:
		return true;
	default:
		return false;
	}
}

int64_t
ir_shape_numel(const ir_shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] < 0)
			return -1;
		/* Checked before multiplying so the product never overflows. */
		if (s->dim[i] > 0 && n > IR_MAX_ELEMS / s->dim[i])
			return -1;
		n *= s->dim[i];
	}
	return n;
}

bool
ir_shape_eq(const ir_shape *a, const ir_shape *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return false;
	return true;
}

void
ir_shape_str(const ir_shape *s, char *buf, size_t size)
{
	size_t n = 0;
	if (size == 0)
		return;
	buf[0] = 0;
	n += (size_t)snprintf(buf + n, size - n, "[");
	for (int i = 0; i < s->rank && n < size; i++)
		n += s->dim[i] < 0
			? (size_t)snprintf(buf + n, size - n, "%s?", i ? "," : "")
			: (size_t)snprintf(buf + n, size - n, "%s%lld",
					   i ? "," : "", (long long)s->dim[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

bool
ir_shape_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out)
{
	ir_shape r;
	r.rank = a->rank > b->rank ? a->rank : b->rank;
	for (int i = 0; i < r.rank; i++) {
		int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
		int64_t da = ia >= 0 ? a->dim[ia] : 1;
		int64_t db = ib >= 0 ? b->dim[ib] : 1;
		if (da == db || db == 1)
			r.dim[i] = da;
		else if (da == 1)
			r.dim[i] = db;
		else
			return false;
	}
	for (int i = r.rank; i < IR_MAX_RANK; i++)
		r.dim[i] = 0;
	*out = r;
	return true;
}

static uint32_t
f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float
bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float
ir_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (exp == 0x1f)
		return bits_f32(sign | 0x7f800000 | (man << 13));
	if (exp == 0) {
		/* Subnormal (or zero): man * 2^-24, exact in f32. */
		float v = (float)man * 0x1p-24f;
		return sign ? -v : v;
	}
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t
ir_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
	if (exp == 0xff)
		return sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0);
	int e = (int)exp - 127 + 15;
	if (e >= 0x1f)
		return sign | 0x7c00;
	if (e <= 0) {
		/* Result is subnormal: shift the full mantissa into place and
		 * round to nearest even on the dropped bits. */
		if (e < -10)
			return sign;
		man |= 0x800000;
		int shift = 14 - e;
		uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
		uint32_t r = man >> shift;
		if (rest > half || (rest == half && (r & 1)))
			r++;
		return sign | (uint16_t)r;
	}
	uint32_t r = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fff;
	/* A carry out of the mantissa bumps the exponent, up to infinity,
	 * which is the correct rounding. */
	if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
		r++;
	return sign | (uint16_t)r;
}

float
ir_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t
ir_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 0x40); /* quiet NaN stays NaN */
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

double
ir_load_f64(const void *data, ir_dtype t, int64_t i)
{
	switch (t) {
	case IR_F32: return ((const float *)data)[i];
	case IR_F64: return ((const double *)data)[i];
	case IR_F16: return ir_f16_to_f32(((const uint16_t *)data)[i]);
	case IR_BF16: return ir_bf16_to_f32(((const uint16_t *)data)[i]);
	case IR_I8: return ((const int8_t *)data)[i];
	case IR_I16: return ((const int16_t *)data)[i];
	case IR_I32: return ((const int32_t *)data)[i];
	case IR_I64: return (double)((const int64_t *)data)[i];
	case IR_U8: return ((const uint8_t *)data)[i];
	case IR_U16: return ((const uint16_t *)data)[i];
	case IR_U32: return ((const uint32_t *)data)[i];
	case IR_U64: return (double)((const uint64_t *)data)[i];
	case IR_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: nn_unreachable();
	}
}

/* Truncation toward zero, saturating out-of-range values and mapping NaN
 * to 0, because a plain C conversion of those is undefined behaviour. */
static int64_t
to_i64(double v, double lo, double hi)
{
	if (isnan(v))
		return 0;
	if (v <= lo)
		return (int64_t)lo;
	if (v >= hi)
		return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
	return (int64_t)v;
}

static uint64_t
to_u64(double v, double hi)
{
	if (isnan(v) || v <= 0)
		return 0;
	if (v >= hi)
		return hi >= 0x1p64 ? UINT64_MAX : (uint64_t)hi;
	return (uint64_t)v;
}

void
ir_store_f64(void *data, ir_dtype t, int64_t i, double v)
{
	switch (t) {
	case IR_F32: ((float *)data)[i] = (float)v; break;
	case IR_F64: ((double *)data)[i] = v; break;
	case IR_F16: ((uint16_t *)data)[i] = ir_f32_to_f16((float)v); break;
	case IR_BF16: ((uint16_t *)data)[i] = ir_f32_to_bf16((float)v); break;
	case IR_I8: ((int8_t *)data)[i] = (int8_t)to_i64(v, -128, 127); break;
	case IR_I16:
		((int16_t *)data)[i] = (int16_t)to_i64(v, -32768, 32767);
		break;
	case IR_I32:
		((int32_t *)data)[i] = (int32_t)to_i64(v, -0x1p31, 0x1p31 - 1);
		break;
	case IR_I64: ((int64_t *)data)[i] = to_i64(v, -0x1p63, 0x1p63); break;
	case IR_U8: ((uint8_t *)data)[i] = (uint8_t)to_u64(v, 255); break;
	case IR_U16: ((uint16_t *)data)[i] = (uint16_t)to_u64(v, 65535); break;
	case IR_U32:
		((uint32_t *)data)[i] = (uint32_t)to_u64(v, 0x1p32 - 1);
		break;
	case IR_U64: ((uint64_t *)data)[i] = to_u64(v, 0x1p64); break;
	case IR_BOOL: ((uint8_t *)data)[i] = v != 0; break;
	default: nn_unreachable();
	}
}

int64_t
ir_load_i64(const void *data, ir_dtype t, int64_t i)
{
	switch (t) {
	case IR_I8: return ((const int8_t *)data)[i];
	case IR_I16: return ((const int16_t *)data)[i];
	case IR_I32: return ((const int32_t *)data)[i];
	case IR_I64: return ((const int64_t *)data)[i];
	case IR_U8: return ((const uint8_t *)data)[i];
	case IR_U16: return ((const uint16_t *)data)[i];
	case IR_U32: return ((const uint32_t *)data)[i];
	case IR_U64: return (int64_t)((const uint64_t *)data)[i];
	case IR_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: return to_i64(ir_load_f64(data, t, i), -0x1p63, 0x1p63);
	}
}
