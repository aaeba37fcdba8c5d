/* op_norm.c: not written yet. */
#include "ir.h"
