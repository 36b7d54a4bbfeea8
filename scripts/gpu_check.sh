#!/usr/bin/env bash
# The device check for a machine with a GPU: the GPU parity tests, one timed epoch of the main
# job on the GPU and then on the CPU (same settings; each prints its per-phase times and final
# probe scores), and the SimCLR step benchmark on both devices.
#
#   bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --features gpu
cargo test --release --features gpu --lib --test gpu --test gpu_cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for device in gpu cpu; do
    echo "== simclr-mnist --epochs 1 --device $device"
    time ./target/release/nidl simclr-mnist --epochs 1 --device "$device" \
        --log-dir "$tmp/$device" --no-progress
done
cargo bench --features gpu --bench simclr_step -- --warm-up-time 2 --measurement-time 5
