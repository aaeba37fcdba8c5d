/* graph.c: not written yet. */
#include "ir.h"
