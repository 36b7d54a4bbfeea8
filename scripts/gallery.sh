#!/usr/bin/env bash
# Regenerates the README's gallery: runs each training command with its default settings into a
# temporary log folder, copies the metrics plot it writes to docs/gallery/<command>.png, and
# prints one Markdown table row per command: wall time and the final probe scores (the last
# value of each probe's accuracy / R2 / MAE tag in metrics.csv).
#
#   bash scripts/gallery.sh            # all four commands (about 3 minutes on 2 cores)
#   bash scripts/gallery.sh barlow-mnist
set -euo pipefail
cd "$(dirname "$0")/.."

commands=("$@")
if [ ${#commands[@]} -eq 0 ]; then
    commands=(simclr-mnist yaware-openbhb barlow-mnist barlow-openbhb)
fi

cargo build --release --quiet
mkdir -p docs/gallery
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "| command | wall time | final probe scores |"
echo "|---|---|---|"
for cmd in "${commands[@]}"; do
    start=$(date +%s.%N)
    ./target/release/nidl "$cmd" --log-dir "$tmp/$cmd" --no-progress > "$tmp/$cmd.out"
    end=$(date +%s.%N)
    run="$tmp/$cmd/version_0"
    cp "$run/metrics.png" "docs/gallery/$cmd.png"
    scores=$(awk -F, 'NR > 1 && $3 ~ /\/(accuracy|R2|MAE)$/ { last[$3] = $4; if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 } }
        END { for (i = 0; i < n; i++) printf "%s`%s` %.4f", (i ? ", " : ""), order[i], last[order[i]] }' "$run/metrics.csv")
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    printf '| `nidl %s` | %s s | %s |\n' "$cmd" "$wall" "$scores"
done
