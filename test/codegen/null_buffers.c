/* The NULL-pointer status of a compiled model (README.md: 1), from the
 * generated API only: NULL arrays, a NULL buffer in them, and a NULL
 * workspace where the model needs one. Build with -DMODEL=name
 * -DHEADER='"name.h"'; prints `N passed, N failed`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PASTE3(a, b, c) a##b##c
#define XPASTE3(a, b, c) PASTE3(a, b, c)
#define SYM(x) XPASTE3(MODEL, _, x)

#include HEADER

#define NIN SYM(NUM_INPUTS)
#define NOUT SYM(NUM_OUTPUTS)

static int passed, failed;

static void
expect(const char *what, int got, int want)
{
	if (got == want) {
		passed++;
		return;
	}
	printf("FAIL %s: returned %d, expected %d\n", what, got, want);
	failed++;
}

/* Zeroed buffers, large enough for the small test models: all-zero
 * indices are in range. */
static int64_t bufs[NIN + NOUT][512];

int
main(void)
{
	const void *in[NIN];
	void *out[NOUT];
	size_t wsz = SYM(workspace_size)();
	void *ws = malloc(wsz + 1);

	for (int i = 0; i < NIN; i++)
		in[i] = bufs[i];
	for (int j = 0; j < NOUT; j++)
		out[j] = bufs[NIN + j];
	/* the header's codes are the documented numbers */
	expect("OK macro", SYM(OK), 0);
	expect("ERR_NULL macro", SYM(ERR_NULL), 1);
	expect("ERR_INDEX macro", SYM(ERR_INDEX), 2);
	expect("ERR_DIV_ZERO macro", SYM(ERR_DIV_ZERO), 3);
	expect("good buffers", SYM(run)(in, out), 0);
	expect("good buffers, workspace", SYM(run_with_workspace)(in, out, ws),
	       0);
	expect("inputs NULL", SYM(run)(NULL, out), 1);
	expect("outputs NULL", SYM(run)(in, NULL), 1);
	expect("workspace NULL", SYM(run_with_workspace)(in, out, NULL),
	       wsz ? 1 : 0);
	for (int i = 0; i < NIN; i++) {
		in[i] = NULL;
		expect("an input NULL", SYM(run)(in, out), 1);
		expect("an input NULL, workspace",
		       SYM(run_with_workspace)(in, out, ws), 1);
		in[i] = bufs[i];
	}
	for (int j = 0; j < NOUT; j++) {
		out[j] = NULL;
		expect("an output NULL", SYM(run)(in, out), 1);
		out[j] = bufs[NIN + j];
	}
	expect("good buffers again", SYM(run)(in, out), 0);
	free(ws);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
