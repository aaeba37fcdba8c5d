/* Unit tests for ir/types.c: dtype names, shapes, numpy broadcasting,
 * half-float conversions and element access. Expected bit patterns come
 * from the IEEE 754 formats, not from the code under test. */
#include <math.h>
#include <string.h>

#include "ir.h"
#include "unit.h"

static void
test_dtypes(void)
{
	static const char *const names[] = {"f32", "f64", "f16", "bf16", "i8",
		"i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool"};
	static const size_t sizes[] = {4, 8, 2, 2, 1, 2, 4, 8, 1, 2, 4, 8, 1};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		ir_dtype t = ir_dtype_parse(names[i], strlen(names[i]));
		CHECK(t != IR_UNDEF);
		CHECK(strcmp(ir_dtype_name(t), names[i]) == 0);
		CHECK(ir_dtype_size(t) == sizes[i]);
	}
	CHECK(ir_dtype_parse("f32", 3) == IR_F32);
	CHECK(ir_dtype_parse("bf16", 4) == IR_BF16);
	CHECK(ir_dtype_parse("f3", 2) == IR_UNDEF);
	CHECK(ir_dtype_parse("f321", 3) == IR_F32); /* len bounds the name */
	CHECK(ir_dtype_size(IR_STRING) == 0 && ir_dtype_size(IR_UNDEF) == 0);
	CHECK(ir_dtype_is_float(IR_BF16) && !ir_dtype_is_float(IR_I32));
	CHECK(ir_dtype_is_int(IR_U64) && !ir_dtype_is_int(IR_BOOL));
}

static ir_shape
shp(int rank, int64_t a, int64_t b, int64_t c)
{
	ir_shape s = {rank, {a, b, c}};
	return s;
}

static void
test_shapes(void)
{
	ir_shape a = shp(3, 2, 1, 4), b = shp(2, 3, 1, 0), o;
	char buf[64];
	CHECK(ir_shape_numel(&a) == 8);
	ir_shape scalar = {0};
	CHECK(ir_shape_numel(&scalar) == 1);
	ir_shape unk = shp(2, -1, 3, 0);
	CHECK(ir_shape_numel(&unk) == -1);
	ir_shape huge = shp(3, (int64_t)1 << 30, (int64_t)1 << 30, 4);
	CHECK(ir_shape_numel(&huge) == -1);
	CHECK(ir_shape_broadcast(&a, &b, &o));
	CHECK(o.rank == 3 && o.dim[0] == 2 && o.dim[1] == 3 && o.dim[2] == 4);
	ir_shape c = shp(1, 3, 0, 0);
	CHECK(!ir_shape_broadcast(&a, &c, &o)); /* 4 vs 3 */
	CHECK(ir_shape_broadcast(&scalar, &a, &o) && ir_shape_eq(&o, &a));
	ir_shape z = shp(2, 0, 4, 0);
	CHECK(ir_shape_broadcast(&z, &c, &o) == false);
	ir_shape z1 = shp(2, 0, 1, 0);
	CHECK(ir_shape_broadcast(&z1, &a, &o) && o.dim[1] == 0);
	ir_shape_str(&a, buf, sizeof buf);
	CHECK(strcmp(buf, "[2,1,4]") == 0);
	ir_shape_str(&scalar, buf, sizeof buf);
	CHECK(strcmp(buf, "[]") == 0);
	ir_shape_str(&a, buf, 4); /* truncates, stays terminated */
	CHECK(strlen(buf) == 3);
}

static float
bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void
test_f16(void)
{
	CHECK(ir_f32_to_f16(1.0f) == 0x3c00);
	CHECK(ir_f32_to_f16(-2.0f) == 0xc000);
	CHECK(ir_f32_to_f16(65504.0f) == 0x7bff);
	CHECK(ir_f32_to_f16(65520.0f) == 0x7c00); /* tie rounds to inf */
	CHECK(ir_f32_to_f16(65519.0f) == 0x7bff);
	CHECK(ir_f32_to_f16(INFINITY) == 0x7c00);
	CHECK((ir_f32_to_f16(NAN) & 0x7c00) == 0x7c00 &&
	      (ir_f32_to_f16(NAN) & 0x3ff) != 0);
	CHECK(ir_f32_to_f16(0x1p-24f) == 0x0001); /* smallest subnormal */
	CHECK(ir_f32_to_f16(0x1p-25f) == 0x0000); /* tie to even: 0 */
	CHECK(ir_f32_to_f16(0x1.8p-24f) == 0x0002); /* tie to even: 2 */
	CHECK(ir_f32_to_f16(0x1p-14f) == 0x0400); /* smallest normal */
	CHECK(ir_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00); /* tie to even */
	CHECK(ir_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);
	CHECK(ir_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01);
	CHECK(ir_f32_to_f16(-0.0f) == 0x8000);
	CHECK(ir_f16_to_f32(0x3555) == bits(0x3eaaa000)); /* 0.333251953125 */
	CHECK(ir_f16_to_f32(0x0001) == 0x1p-24f);
	CHECK(ir_f16_to_f32(0x8400) == -0x1p-14f);
	CHECK(isinf(ir_f16_to_f32(0xfc00)) && ir_f16_to_f32(0xfc00) < 0);
	CHECK(isnan(ir_f16_to_f32(0x7e00)));
	/* Every finite half survives a round trip through f32. */
	int bad = 0;
	for (uint32_t h = 0; h < 0x10000; h++)
		if ((h & 0x7c00) != 0x7c00 &&
		    ir_f32_to_f16(ir_f16_to_f32((uint16_t)h)) != h)
			bad++;
	CHECK(bad == 0);
}

static void
test_bf16(void)
{
	CHECK(ir_f32_to_bf16(1.0f) == 0x3f80);
	CHECK(ir_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80); /* tie to even */
	CHECK(ir_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
	CHECK(ir_f32_to_bf16(-3.0f) == 0xc040);
	CHECK(isnan(ir_bf16_to_f32(ir_f32_to_bf16(NAN))));
	CHECK(ir_bf16_to_f32(0x4049) == bits(0x40490000));
}

static void
test_elems(void)
{
	int8_t i8[2];
	uint8_t u8[2];
	int64_t i64[2];
	uint16_t h[1];
	uint8_t b[1];
	ir_store_f64(i8, IR_I8, 0, -3.9);
	CHECK(i8[0] == -3); /* truncation toward zero */
	ir_store_f64(i8, IR_I8, 1, 1000);
	CHECK(i8[1] == 127); /* saturates rather than UB */
	ir_store_f64(u8, IR_U8, 0, 255.5);
	ir_store_f64(u8, IR_U8, 1, NAN);
	CHECK(u8[0] == 255 && u8[1] == 0);
	ir_store_f64(i64, IR_I64, 0, -1e30);
	CHECK(i64[0] == INT64_MIN);
	i64[1] = ((int64_t)1 << 60) + 1;
	CHECK(ir_load_i64(i64, IR_I64, 1) == ((int64_t)1 << 60) + 1);
	CHECK(ir_load_f64(i8, IR_I8, 0) == -3.0);
	ir_store_f64(h, IR_F16, 0, 0.5);
	CHECK(h[0] == 0x3800 && ir_load_f64(h, IR_F16, 0) == 0.5);
	ir_store_f64(b, IR_BOOL, 0, -2);
	CHECK(b[0] == 1 && ir_load_i64(b, IR_BOOL, 0) == 1);
	float f[1] = {-2.75f};
	CHECK(ir_load_i64(f, IR_F32, 0) == -2);
}

int
main(void)
{
	test_dtypes();
	test_shapes();
	test_f16();
	test_bf16();
	test_elems();
	return unit_report();
}
