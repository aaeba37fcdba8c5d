/* op_slice.c: not written yet. */
#include "ir.h"
