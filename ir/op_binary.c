/* op_binary.c: not written yet. */
#include "ir.h"
