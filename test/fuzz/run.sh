#!/usr/bin/env bash
# Builds nncc's libFuzzer targets with clang (NNCC_FUZZ=ON) and runs each
# for N seconds, one at a time. Crashes, leaks, timeouts and OOMs land in
# BUILD/fuzz/art/TARGET/; see test/fuzz/README.md for triage.
#   test/fuzz/run.sh [-b BUILD] [-j JOBS] [SECONDS] [TARGET...]
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-fuzz
jobs=1
while getopts b:j: opt; do
	case $opt in
	b) build=$(realpath -m "$OPTARG") ;;
	j) jobs=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD] [-j JOBS] [SECONDS] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
secs=${1:-60}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(onnx ir npy compile)

if [[ ! -f $build/CMakeCache.txt ]]; then
	CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DNNCC_FUZZ=ON >/dev/null
fi
ninja -C "$build" "${targets[@]/#/fuzz-}"

# Seeds: the committed corpus and regressions, plus the models, IR files
# and arrays that tests and examples already have (build dirs included:
# the lit and onnx-node runs leave small encoded models there).
seed() {
	local t=$1 dir=$build/fuzz/seeds/$1
	rm -rf "$dir"; mkdir -p "$dir"
	cp "$src/test/fuzz/corpus/$t/"* "$src/test/fuzz/corpus-regressions/$t/"* "$dir/" 2>/dev/null || true
	local i=0 pat
	case $t in
	onnx) pat='*.onnx' ;;
	ir) pat='*.nnir' ;;
	npy) pat='*.npy' ;;
	compile) return ;; # choices, not files: the corpus is the seed
	esac
	while IFS= read -r f; do
		i=$((i + 1)); cp "$f" "$dir/s$i.$t"
	done < <(find "$src/test" "$src/examples" "$src"/build*/test -name "$pat" -size -16k 2>/dev/null | head -2000)
}

# The IR target's dictionary: op and attribute names from the tables, and
# the text form's keywords, so mutations reach the op hooks sooner.
dict=$build/fuzz/ir.dict
mkdir -p "$build/fuzz"
{
	sed -n 's/^OP([^,]*, *\("[^"]*"\).*/\1/p' "$src/ir/ops.def"
	sed -n 's/^ATTR([^,]*, *\("[^"]*"\).*/\1/p' "$src/ir/attrs.def" | sort -u
	for w in graph const return opset loc none splat elided random seed \
		sparsity nnz hash f32 f64 f16 bf16 i8 i16 i32 i64 u8 u16 u32 u64 \
		bool true false nan inf '->' '%' '@' '{' '}' '[' ']' '(' ')' ':' \
		'=' ','; do
		printf '"%s"\n' "$w"
	done
} >"$dict"

status=0
for t in "${targets[@]}"; do
	seed "$t"
	mkdir -p "$build/fuzz/work/$t" "$build/fuzz/art/$t"
	echo "== fuzz-$t: $secs s"
	# fork mode keeps going after a crash so one run finds several bugs;
	# -timeout catches hangs, -rss_limit_mb runaway allocations.
	"$build/test/fuzz/fuzz-$t" -fork="$jobs" -ignore_crashes=1 -ignore_ooms=1 \
		-ignore_timeouts=1 -max_total_time="$secs" -rss_limit_mb=4096 \
		-timeout=10 -max_len=$([[ $t == compile ]] && echo 4096 || echo 16384) $([[ $t == ir ]] && echo "-dict=$dict") -artifact_prefix="$build/fuzz/art/$t/" \
		"$build/fuzz/work/$t" "$build/fuzz/seeds/$t" \
		>"$build/fuzz/$t.log" 2>&1 || true
	n=$(find "$build/fuzz/art/$t" -type f | wc -l)
	echo "   $(grep -c . "$build/fuzz/$t.log") log lines, $n artifacts in $build/fuzz/art/$t"
	grep -h 'SUMMARY\|runtime error' "$build/fuzz/$t.log" | sort | uniq -c | head -20 || true
	[[ $n -eq 0 ]] || status=1
done
exit $status
