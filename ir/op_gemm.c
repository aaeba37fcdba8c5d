/* op_gemm.c: not written yet. */
#include "ir.h"
