/* op_misc.c: not written yet. */
#include "ir.h"
