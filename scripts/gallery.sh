#!/usr/bin/env bash
# Regenerates the README's gallery: runs each training command with its default settings into a
# temporary log folder, copies the figure it writes to docs/gallery/<command>.png (and .svg), and
# prints one Markdown table row per command: wall time and the final probe scores (the last
# value of each probe's accuracy / R2 / MAE tag in metrics.csv). Then two y-Aware runs of
# different seeds, overlaid by `nidl plot` into docs/gallery/compare-yaware-seeds.png (and .svg),
# with the final scores of each.
#
#   bash scripts/gallery.sh            # all five commands and the comparison (about 4 minutes
#                                      # on 2 idle cores)
#   bash scripts/gallery.sh barlow-mnist
#   bash scripts/gallery.sh vae-mnist     # (with --probe logreg,knn: both digit probes)
#
# dino-mnist runs with `--probe logreg,knn` (its row gives the logistic and the 5-NN accuracy).
# Where /usr/bin/time is installed, each row also gives the run's peak resident memory. With
# GALLERY_KEEP=DIR, each run's log folder is copied to DIR/<command>/ (metrics.csv for the curves).
#
# The binary is ${CARGO_TARGET_DIR:-target}/release/nidl, built first.
set -euo pipefail
cd "$(dirname "$0")/.."

commands=("$@")
compare=0
if [ ${#commands[@]} -eq 0 ]; then
    commands=(simclr-mnist yaware-openbhb barlow-mnist barlow-openbhb dcl-mnist vae-mnist dino-mnist)
    compare=1
fi

# Options a command's gallery run adds to its defaults.
# issue 19's methods are reported with both the logistic and the 5-NN probe.
declare -A extra_args=([dcl-mnist]="--probe logreg,knn" [vae-mnist]="--probe logreg,knn" [dino-mnist]="--probe logreg,knn")

cargo build --release --quiet
nidl="${CARGO_TARGET_DIR:-target}/release/nidl"
mkdir -p docs/gallery
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The last value of each probe's accuracy / R2 / MAE tag in the metrics.csv at $1.
final_scores() {
    awk -F, 'NR > 1 && $3 ~ /\/(accuracy|R2|MAE)$/ { last[$3] = $4; if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 } }
        END { for (i = 0; i < n; i++) printf "%s`%s` %.4f", (i ? ", " : ""), order[i], last[order[i]] }' "$1"
}

# The peak resident memory of a run whose `/usr/bin/time -v` report is at $1 ("" without one).
peak_rss() {
    [ -s "$1" ] && awk -F': ' '/Maximum resident set size/ { printf ", peak RSS %.0f MB", $2 / 1024 }' "$1"
    return 0
}

timed=()
if [ -x /usr/bin/time ]; then
    timed=(/usr/bin/time -v -o)
fi

echo "| command | wall time | final probe scores |"
echo "|---|---|---|"
for cmd in "${commands[@]}"; do
    # shellcheck disable=SC2206  # extra_args holds whole words
    extra=(${extra_args[$cmd]:-})
    start=$(date +%s.%N)
    if [ ${#timed[@]} -gt 0 ]; then
        "${timed[@]}" "$tmp/$cmd.time" "$nidl" "$cmd" ${extra[@]+${extra[@]+"${extra[@]}"}} --log-dir "$tmp/$cmd" --no-progress > "$tmp/$cmd.out"
    else
        "$nidl" "$cmd" "${extra[@]}" --log-dir "$tmp/$cmd" --no-progress > "$tmp/$cmd.out"
    fi
    end=$(date +%s.%N)
    run="$tmp/$cmd/version_0"
    cp "$run/metrics.png" "docs/gallery/$cmd.png"
    cp "$run/metrics.svg" "docs/gallery/$cmd.svg"
    if [ -n "${GALLERY_KEEP:-}" ]; then
        mkdir -p "$GALLERY_KEEP" && cp -r "$tmp/$cmd" "$GALLERY_KEEP/"
    fi
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    printf '| `nidl %s` | %s s%s | %s |\n' "$cmd" "$wall" "$(peak_rss "$tmp/$cmd.time")" "$(final_scores "$run/metrics.csv")"
done

if [ "$compare" -eq 1 ]; then
    echo
    echo "| \`nidl yaware-openbhb --seed S\` | final probe scores |"
    echo "|---|---|"
    for seed in 1 2; do
        "$nidl" yaware-openbhb --seed "$seed" --log-dir "$tmp/seeds" --no-progress > "$tmp/seed$seed.out"
        printf '| %s | %s |\n' "$seed" "$(final_scores "$tmp/seeds/version_$((seed - 1))/metrics.csv")"
    done
    "$nidl" plot "$tmp/seeds/version_0" "$tmp/seeds/version_1" \
        --tags 'task0/R2,task0/MAE,task1/accuracy,loss/*' \
        --out docs/gallery/compare-yaware-seeds.png
fi
