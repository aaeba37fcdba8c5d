/* op_resize.c: not written yet. */
#include "ir.h"
