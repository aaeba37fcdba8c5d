/* op_softmax.c: not written yet. */
#include "ir.h"
