/* op_reshape.c: not written yet. */
#include "ir.h"
