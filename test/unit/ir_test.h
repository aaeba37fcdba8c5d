/* A minimal check harness shared by the ir_*_test.c unit tests. */
#ifndef NNCC_IR_TEST_H
#define NNCC_IR_TEST_H

#include <stdio.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                      \
	do {                                                             \
		if (cond) {                                              \
			test_passed++;                                   \
		} else {                                                 \
			test_failed++;                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n",     \
				__FILE__, __LINE__, #cond);              \
		}                                                        \
	} while (0)

static int
test_report(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed != 0;
}

#endif
