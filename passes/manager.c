/* manager.c: not written yet. */
#include "passes.h"
