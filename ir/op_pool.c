/* op_pool.c: not written yet. */
#include "ir.h"
