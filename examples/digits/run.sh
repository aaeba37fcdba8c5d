#!/usr/bin/env bash
# nncc's main job on the bundled digits models, end to end on a fresh Debian
# 12 machine: installs the dependencies, builds nncc (Release, in build/),
# compiles the models to objects -- the dense MLP, the same MLP after
# PyTorch's own 90% magnitude pruning (masked zeros, no smaller or faster
# in PyTorch), and that model compressed by nncc (pattern kept, 16 shared
# weight values) for speed (-O3) and for size (-Os); then the data-driven
# build: the dense MLP and CNN pruned by nncc without data and with
# --calib (refit on unlabeled training samples) -- links each object
# into the demo app
# (app.c, written only against the generated API), runs it over the test
# split one sample at a time, and prints accuracy, latency and object size.
# Set NNCC_SKIP_DEPS=1 to skip the apt step, NNCC_BUILD_DIR to build
# elsewhere.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/examples/digits"
build="${NNCC_BUILD_DIR:-$root/build}"
out="$build/examples/digits"

if [[ "${NNCC_SKIP_DEPS:-0}" != 1 ]]; then
	bash "$root/scripts/install-deps.sh"
fi
echo "building nncc in $build ..."
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target nncc nncc-run nncc_rt
mkdir -p "$out"
echo "each build's object, header, app and nncc log: $out/MODEL-CONFIG/"
echo

# One build: MODEL X CONFIG FLAGS... -> one table row.
run_config() {
	local model=$1 x=$2 config=$3
	shift 3
	local dir="$out/${model%.onnx}-$config"
	mkdir -p "$dir"
	"$build/tools/nncc" "$here/$model" "$@" --name digits \
		-o "$dir/digits.o" -H "$dir/digits.h" >"$dir/nncc.log" 2>&1 || {
		cat "$dir/nncc.log" >&2
		exit 1
	}
	cc -O2 -I"$dir" -I"$root/runtime" "$here/app.c" "$dir/digits.o" \
		"$build/runtime/libnncc_rt.a" -lm -o "$dir/app"
	local res size
	res=$("$dir/app" "$here/$x" "$here/digits_y.npy")
	size=$(stat -c %s "$dir/digits.o")
	printf '%-10s %-16s %s  object %6d bytes\n' "${model%.onnx}" \
		"$config" "$res" "$size"
	if [[ " $* " == *" --report "* ]]; then
		echo "    nncc $model $*:"
		grep -v '^nncc: note' "$dir/nncc.log" | sed 's/^/    /'
	fi
}

echo "PyTorch's own test accuracy (train.py): $(grep -v '^#' \
	"$here/expected_accuracy.txt" | awk '{printf "%s %s  ", $1, $4}')"
echo
run_config mlp.onnx digits_x.npy dense -O3
run_config mlp_pruned.onnx digits_x.npy pruned-by-torch -O3
run_config mlp_pruned.onnx digits_x.npy compressed-O3 -O3 --prune=0.9:global \
	--share=16
run_config mlp_pruned.onnx digits_x.npy compressed-Os -Os --prune=0.9:global \
	--share=16 --calib "$here/digits_calib_x.npy" --eval "$here/digits_x.npy" \
	--labels "$here/digits_y.npy" --report
# The data-driven build: the dense-trained MLP pruned by nncc itself, once
# without data and once with --calib (512 unlabeled training samples: refit
# brings each compressed layer back to the dense model's outputs).
run_config mlp.onnx digits_x.npy pruned-no-data -O3 --prune=0.9:global
run_config mlp.onnx digits_x.npy pruned+calib -O3 --prune=0.9:global \
	--calib "$here/digits_calib_x.npy"
run_config mlp.onnx digits_x.npy calib-Os -Os --prune=0.9:global --share=16 \
	--calib "$here/digits_calib_x.npy" --eval "$here/digits_x.npy" \
	--labels "$here/digits_y.npy" --report
# The MLP trained with an L1 penalty (train.py): many weights near zero,
# so pruning costs it less.
run_config mlp_l1.onnx digits_x.npy dense -O3
run_config mlp_l1.onnx digits_x.npy pruned-no-data -O3 --prune=0.9:global
run_config cnn.onnx digits_x_img.npy dense -O3
run_config cnn.onnx digits_x_img.npy pruned-no-data -O3 --prune=0.8:global
run_config cnn.onnx digits_x_img.npy pruned+calib -O3 --prune=0.8:global \
	--calib "$here/digits_calib_x_img.npy"
