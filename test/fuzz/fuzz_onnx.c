/* Fuzz target: ONNX bytes -> import -> shape inference, then the verifier
 * and the printer on whatever imported. */
#include "frontend.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nn_diag d;
	nn_diag_init(&d, "fuzz-onnx", "fuzz.onnx");
	d.out = fuzz_sink();
	ir_graph *g = fe_import_onnx_buffer(data, size, "fuzz.onnx", NULL, &d);
	if (g) {
		if (ir_verify(g, &d))
			ir_print(fuzz_sink(), g, &(ir_print_opts){0});
		ir_graph_free(g);
	}
	return 0;
}
