#!/usr/bin/env bash
# Installs every Debian 12 package nncc needs to build, test and run its
# examples. Idempotent: when all packages are already present it does nothing
# (so it also works offline); set NNCC_FORCE_APT=1 to run apt-get anyway.
set -euo pipefail

PACKAGES=(
	build-essential cmake ninja-build pkg-config
	llvm-dev llvm-14-dev llvm-14-tools clang libclang-rt-14-dev
	libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libopenblas-dev
	python3 python3-numpy python3-onnx python3-torch python3-torchvision
	python3-sklearn python3-pil
	valgrind
	chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 && "${NNCC_FORCE_APT:-0}" != 1 ]]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]:-${PACKAGES[*]}}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	--no-install-recommends "${PACKAGES[@]}"
