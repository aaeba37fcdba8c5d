/* timing.c: not written yet. */
