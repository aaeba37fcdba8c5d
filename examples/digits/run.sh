#!/usr/bin/env bash
# The digits demo end to end on a fresh Debian 12 machine: installs the
# dependencies, builds nncc in build/ (Release), and prints the top-1 accuracy
# that nncc's interpreter gets on the bundled test split for each model, next
# to the accuracy PyTorch recorded when train.py made the models.
# (Compiling the models to an object file and linking a demo app arrives with
# the LLVM backend.)  Set NNCC_SKIP_DEPS=1 to skip the apt step.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/examples/digits"
build="${NNCC_BUILD_DIR:-$root/build}"

if [[ "${NNCC_SKIP_DEPS:-0}" != 1 ]]; then
	bash "$root/scripts/install-deps.sh"
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target nncc-run

while read -r model xfile acc frac; do
	[[ "$model" == \#* || -z "$model" ]] && continue
	echo "== $model ($xfile): PyTorch top-1 $acc ($frac)"
	"$build/tools/nncc-run" "$here/$model" "$here/$xfile" \
		--labels "$here/digits_y.npy"
done < "$here/expected_accuracy.txt"
