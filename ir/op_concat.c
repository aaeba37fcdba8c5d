/* op_concat.c: not written yet. */
#include "ir.h"
