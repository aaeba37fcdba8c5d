/* Private to the ir/ reference kernels: element copies, whole tensors as
 * doubles (the BLAS-backed kernels), and integer and
 * bool elements as raw 64-bit patterns, so that integer kernels wrap like C unsigned arithmetic
 * instead of losing precision through double (i64 shape arithmetic). */
#ifndef NNCC_IR_ELEM_H
#define NNCC_IR_ELEM_H

#include <string.h>

#include "ir.h"

/* The n elements of v (data p) as a malloc'd double array. */
static inline double *
elem_to_f64(const ir_value *v, const void *p)
{
	int64_t n = ir_shape_numel(&v->shape);
	double *r = nn_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *r);

	for (int64_t i = 0; i < n; i++)
		r[i] = ir_load_f64(p, v->dtype, i);
	return r;
}

/* One element of esz bytes; the constant sizes let the compiler turn the
 * copy into a single move in the data-movement kernels' inner loops. */
static inline void
elem_copy(char *dst, const char *src, size_t esz)
{
	switch (esz) {
	case 1: *dst = *src; break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	default: memcpy(dst, src, esz); break;
	}
}

static inline bool
elem_is_unsigned(ir_dtype t)
{
	return ir_dtype_is_unsigned(t);
}

/* Element i of an integer or bool tensor, sign-extended for signed types
 * and zero-extended for the others. */
static inline uint64_t
elem_load_bits(const void *p, ir_dtype t, int64_t i)
{
	switch (t) {
	case IR_I8: return (uint64_t)(int64_t)((const int8_t *)p)[i];
	case IR_I16: return (uint64_t)(int64_t)((const int16_t *)p)[i];
	case IR_I32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
	case IR_I64: return (uint64_t)((const int64_t *)p)[i];
	case IR_U8: case IR_BOOL: return ((const uint8_t *)p)[i];
	case IR_U16: return ((const uint16_t *)p)[i];
	case IR_U32: return ((const uint32_t *)p)[i];
	case IR_U64: return ((const uint64_t *)p)[i];
	default: nn_unreachable();
	}
}

/* Stores the low bits of v (two's complement wrap-around, as numpy). */
static inline void
elem_store_bits(void *p, ir_dtype t, int64_t i, uint64_t v)
{
	switch (ir_dtype_size(t)) {
	case 1: ((uint8_t *)p)[i] = (uint8_t)v; break;
	case 2: ((uint16_t *)p)[i] = (uint16_t)v; break;
	case 4: ((uint32_t *)p)[i] = (uint32_t)v; break;
	case 8: ((uint64_t *)p)[i] = v; break;
	default: nn_unreachable();
	}
}

/* a < b for two patterns of type t, in its signedness. */
static inline bool
elem_less(uint64_t a, uint64_t b, ir_dtype t)
{
	return elem_is_unsigned(t) ? a < b : (int64_t)a < (int64_t)b;
}

#endif
