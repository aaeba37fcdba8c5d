/* op_conv.c: not written yet. */
#include "ir.h"
