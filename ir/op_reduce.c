/* op_reduce.c: not written yet. */
#include "ir.h"
