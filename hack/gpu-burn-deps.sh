#!/usr/bin/env bash
# What tests/integration/test_gpu_burn_real.py needs besides nvcc to build and run the real gpu-burn here, in
# .build/gpu-burn-deps/ (nothing is installed on the machine):
#   cublas/   cuBLAS headers and libraries for the CUDA toolkit's version, from PyPI's nvidia-cublas wheel (this
#             machine's /usr/local/cuda-13.0 is assembled from NVIDIA's wheels and has no cuBLAS)
#   libcuda/  Debian's libcuda1 (the real driver library, bookworm non-free), unpacked, not installed: with it the
#             built gpu_burn starts and reports CUDA's own "no CUDA-capable device is detected" on this GPU-less host
# Idempotent; prints the directory as its last line. A toolkit that already has cuBLAS needs no cublas/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest=.build/gpu-burn-deps
mkdir -p "$dest"

nvcc=${GPUFLEET_NVCC:-$(command -v nvcc || for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do [[ -x $c ]] && echo "$c" && break; done || true)}
if [[ -z "$nvcc" || ! -x "$nvcc" ]]; then
  echo "gpu-burn-deps: no nvcc found; the real gpu-burn test will skip" >&2
  echo "$dest"
  exit 0
fi
release=$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\),.*/\1.\2/p')
major=${release%%.*}
toolkit=$(dirname "$(dirname "$(readlink -f "$nvcc")")")

if [[ ! -f "$toolkit/include/cublas_v2.h" && ! -f "$dest/cublas/$release/include/cublas_v2.h" ]]; then
  echo "gpu-burn-deps: nvidia-cublas for CUDA $release (about 420 MB)" >&2
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  if [[ $major -ge 13 ]]; then want="nvidia-cublas==$release.*"; else want="nvidia-cublas-cu$major==$release.*"; fi
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$wheels" "$want"
  rm -rf "$dest/cublas/$release" && mkdir -p "$dest/cublas/$release"
  python3 - "$wheels"/*.whl "$dest/cublas/$release" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        parts = member.split("/")
        # nvidia/cu13/{include,lib}/... (CUDA 13 wheels) or nvidia/cublas/{include,lib}/... (older ones)
        if len(parts) >= 4 and parts[0] == "nvidia" and parts[2] in ("include", "lib") and parts[-1]:
            target = os.path.join(out, *parts[2:])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as dst:
                dst.write(src.read())
PY
fi

if [[ ! -e "$dest/libcuda/libcuda.so.1" ]]; then
  echo "gpu-burn-deps: Debian's libcuda1 (bookworm non-free), unpacked into $dest/libcuda" >&2
  apt=$(readlink -f "$dest")/apt
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  cat >"$apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm non-free
deb http://deb.debian.org/debian-security bookworm-security non-free
LIST
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache" -o Dir::State::Status=/var/lib/dpkg/status -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" -qq update
  (cd "$apt/debs" && apt-get "${opts[@]}" -qq download libcuda1)
  rm -rf "$apt/root" && dpkg-deb -x "$apt/debs"/libcuda1_*.deb "$apt/root"
  rm -rf "$dest/libcuda" && mkdir -p "$dest/libcuda"
  cp -a "$apt/root"/usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so* "$dest/libcuda/"
fi
echo "$dest"
