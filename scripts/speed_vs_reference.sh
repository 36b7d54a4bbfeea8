#!/usr/bin/env bash
# Issue 17's side-by-side bench: our criterion benches and the PyTorch / scikit-learn reference,
# run back to back on this machine, then one table with the ratios. Not part of CI.
#
#   scripts/speed_vs_reference.sh [--install] [--threads N] [--quick]
#
#   --install     create the Python venv at $NIDL_SPEED_VENV (default ~/.cache/nidl-speed-venv),
#                 install CPU torch, scikit-learn and numpy into it (needs the network), then run
#   --threads N   threads for both sides (default 2: RAYON_NUM_THREADS, torch, OpenMP/BLAS)
#   --quick       criterion's shorter run (--warm-up-time 1 --measurement-time 3)
#
# Environment: NIDL_SPEED_VENV, a venv with torch, scikit-learn and numpy (e.g. /work/venv-nidl1);
# CARGO_TARGET_DIR as for cargo (criterion writes its estimates under it).
#
# Our side: `cargo bench` for simclr_step, embed and probe (the probe bench also fits the
# reference data set through NIDL_PROBE_REFERENCE_DIR); the reference side:
# scripts/speed_reference.py (what it times is in its docstring). MNIST must be in data/mnist.
set -euo pipefail

cd "$(dirname "$0")/.."
venv="${NIDL_SPEED_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nidl-speed-venv}"
threads=2
install=0
criterion_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --install) install=1 ;;
        --threads) threads="$2"; shift ;;
        --quick) criterion_args=(--warm-up-time 1 --measurement-time 3) ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "speed_vs_reference.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$install" = 1 ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --index-url https://download.pytorch.org/whl/cpu torch
    "$venv/bin/pip" install scikit-learn numpy
fi
py="$venv/bin/python"
if ! "$py" -c "import torch, sklearn, numpy" 2>/dev/null; then
    echo "speed_vs_reference.sh: $py cannot import torch, sklearn and numpy:" \
        "set NIDL_SPEED_VENV to such a venv, or pass --install" >&2
    exit 1
fi
for f in train-images-idx3-ubyte.gz t10k-images-idx3-ubyte.gz; do
    if [ ! -f "data/mnist/$f" ]; then
        echo "speed_vs_reference.sh: data/mnist/$f is missing (the embed bench needs MNIST)" >&2
        exit 1
    fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/nidl-speed.XXXXXX")"
trap 'rm -rf "$work"' EXIT
criterion_dir="${CARGO_TARGET_DIR:-target}/criterion"
export RAYON_NUM_THREADS="$threads"

"$py" scripts/speed_reference.py data "$work"
echo "== build (cargo bench --no-run)"
cargo bench --bench simclr_step --bench embed --bench probe --no-run
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "== nidl-rs (criterion, $threads threads)"
# `--` filters: only the benches the table uses.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo bench --bench simclr_step -- \
    "${criterion_args[@]}" simclr_step/lenet_b128x2_f32
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo bench --bench embed -- \
    "${criterion_args[@]}" embed/mnist_lenet
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" NIDL_PROBE_REFERENCE_DIR="$work" \
    cargo bench --bench probe -- "${criterion_args[@]}" probe/logreg_reference
echo "== PyTorch / scikit-learn ($threads threads)"
"$py" scripts/speed_reference.py bench "$work" --threads "$threads" --mnist data/mnist
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo
"$py" scripts/speed_reference.py table "$work" "$criterion_dir"
