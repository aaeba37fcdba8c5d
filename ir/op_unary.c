/* op_unary.c: not written yet. */
#include "ir.h"
