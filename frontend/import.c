/* import.c: not written yet. */
#include "frontend.h"
