/* op_transpose.c: not written yet. */
#include "ir.h"
