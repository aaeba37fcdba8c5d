/* nncc runtime: what applications and test harnesses link. Freestanding
 * of the rest of nncc. */
#ifndef NNCC_RUNTIME_H
#define NNCC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, numbered as ONNX's TensorProto.DataType. */
enum {
	NNRT_F32 = 1, NNRT_U8 = 2, NNRT_I8 = 3, NNRT_U16 = 4, NNRT_I16 = 5,
	NNRT_I32 = 6, NNRT_I64 = 7, NNRT_BOOL = 9, NNRT_F16 = 10,
	NNRT_F64 = 11, NNRT_U32 = 12, NNRT_U64 = 13
};

typedef struct nnrt_array {
	int dtype;        /* NNRT_* */
	int rank;
	int64_t dim[8];
	void *data;       /* malloc'd; nnrt_array_free releases it */
	size_t nbytes;
} nnrt_array;

/* npy.c */
/* Reads a .npy file (version 1-3; dtypes <f2 <f4 <f8, <i1..<i8, <u1..<u8,
 * |b1, with '|' allowed for 1-byte types; C order only). Returns 0, or -1
 * with a message in err (errsize bytes) and a left empty. */
int nnrt_npy_read(const char *path, nnrt_array *a, char *err, size_t errsize);
/* The same from the size bytes at data (borrowed). */
int nnrt_npy_read_mem(const void *data, size_t size, nnrt_array *a,
		      char *err, size_t errsize);
/* Writes a .npy file (version 1); 0 or -1 with a message in err. */
int nnrt_npy_write(const char *path, const nnrt_array *a, char *err,
		   size_t errsize);
/* The same to an open stdio stream (a FILE *, borrowed and left open:
 * the caller flushes and closes it and checks those for errors). */
int nnrt_npy_fwrite(void *stream, const nnrt_array *a, char *err,
		    size_t errsize);
/* nnrt_npy_read from an open stdio stream (a FILE *, borrowed), read to
 * its end. */
int nnrt_npy_fread(void *stream, nnrt_array *a, char *err, size_t errsize);
void nnrt_array_free(nnrt_array *a);
size_t nnrt_dtype_size(int dtype);       /* 0 if not an NNRT_* type */
const char *nnrt_dtype_name(int dtype);  /* "f32", "i64", "bool", "?" */
int64_t nnrt_array_numel(const nnrt_array *a);

/* timing.c */
double nnrt_now_ns(void);   /* monotonic clock, in nanoseconds */

#ifdef __cplusplus
}
#endif

#endif
