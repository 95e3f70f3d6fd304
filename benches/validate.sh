#!/usr/bin/env bash
# roster validate on 1M generated CSV rows and 1M LDIF entries: rows/s and peak RSS
# (median of RUNS runs), next to `wc -l` on the same file as the floor.
#   benches/validate.sh [ROWS]     (default 1000000; RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
runs=${RUNS:-3}
cargo build --release --quiet
cargo build --release --quiet --example gen
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for fmt in csv ldif; do
    target/release/examples/gen --rows "$rows" --format "$fmt" -o "$dir/users.$fmt"
done
# Let the generated files reach the disk first: write-back would compete with the runs.
sync
for fmt in csv ldif; do
    f="$dir/users.$fmt"
    size=$(du -m "$f" | cut -f1)
    floor=$( { /usr/bin/time -f "%e" wc -l "$f" >/dev/null; } 2>&1 )
    results=()
    for _ in $(seq "$runs"); do
        results+=("$( { /usr/bin/time -f "%e %M" target/release/roster validate "$f" --quiet; } 2>&1 | tail -1)")
    done
    printf '%s\n' "${results[@]}" | sort -n | awk -v n="$rows" -v w="$floor" -v f="$fmt" -v m="$size" -v runs="$runs" '
        { t[NR] = $1; r[NR] = $2 }
        END {
            mid = int((NR + 1) / 2); s = t[mid]; rss = 0
            for (i = 1; i <= NR; i++) if (r[i] > rss) rss = r[i]
            printf "%-4s %d rows (%d MB): roster validate %.2f s (median of %d) = %.0f rows/s, peak RSS %.0f MB (highest); wc -l %.2f s (%.0fx faster)\n",
                   f, n, m, s, runs, n / s, rss / 1024, w, (w > 0 ? s / w : 0) }'
done
