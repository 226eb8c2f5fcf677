#!/usr/bin/env bash
# Build Horovod 0.28.1 from PyPI's sdist against the venv's torch (C++17 patch), once per machine.
# Usage: scripts/build_horovod.sh <venv>. The wheel is cached under $ATELIER_CACHE (default ~/.cache/atelier).
set -euo pipefail
venv=${1:?usage: build_horovod.sh <venv>}
version=0.28.1
cache=${ATELIER_CACHE:-$HOME/.cache/atelier}/wheels
py="$venv/bin/python"

if "$py" -c "import horovod.torch" 2>/dev/null; then
  exit 0
fi
mkdir -p "$cache"
wheel=$(ls "$cache"/horovod-$version-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "[setup] building horovod $version from source (about 8 minutes, once per machine)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$py" -m pip download --quiet --no-deps --no-binary :all: -d "$work" "horovod==$version"
  tar -xzf "$work"/horovod-$version.tar.gz -C "$work"
  src="$work/horovod-$version"
  # torch >= 2.1 headers need C++17; Horovod 0.28.1 asks for C++14.
  sed -i 's/set(CMAKE_CXX_STANDARD 14)/set(CMAKE_CXX_STANDARD 17)/' \
    "$src/CMakeLists.txt" "$src/horovod/torch/CMakeLists.txt"
  grep -q 'CMAKE_CXX_STANDARD 17' "$src/horovod/torch/CMakeLists.txt"
  HOROVOD_WITH_PYTORCH=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1 \
    HOROVOD_WITHOUT_MPI=1 HOROVOD_WITH_GLOO=1 HOROVOD_CPU_OPERATIONS=GLOO \
    MAKEFLAGS="-j$(nproc)" \
    "$py" -m pip wheel --quiet --no-build-isolation --no-deps -w "$cache" "$src"
  wheel=$(ls "$cache"/horovod-$version-*.whl | head -n 1)
fi
"$py" -m pip install --quiet --no-deps "$wheel"
# horovod's own runtime dependencies (cloudpickle, psutil, pyyaml, packaging) come with the stack.
"$py" -c "import horovod.torch as hvd; assert hvd.gloo_built(), 'no Gloo'" \
  || { echo "[setup] horovod was built without PyTorch or Gloo support" >&2; exit 1; }
echo "[setup] horovod $version ready"
