#!/usr/bin/env bash
# roster validate on 1M generated CSV rows and 1M LDIF entries: rows/s and peak RSS,
# next to `wc -l` on the same file as the floor.
#   benches/validate.sh [ROWS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
cargo build --release --quiet
cargo build --release --quiet --example gen
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
for fmt in csv ldif; do
    f="$dir/users.$fmt"
    target/release/examples/gen --rows "$rows" --format "$fmt" -o "$f"
    size=$(du -m "$f" | cut -f1)
    floor=$( { /usr/bin/time -f "%e" wc -l "$f" >/dev/null; } 2>&1 )
    out=$( { /usr/bin/time -f "%e %M" target/release/roster validate "$f" --quiet; } 2>&1 | tail -1)
    secs=${out% *}; rss_kb=${out#* }
    awk -v n="$rows" -v s="$secs" -v r="$rss_kb" -v w="$floor" -v f="$fmt" -v m="$size" 'BEGIN {
        printf "%-4s %d rows (%d MB): roster validate %.2f s = %.0f rows/s, peak RSS %.0f MB; wc -l %.2f s (%.0fx faster)\n",
               f, n, m, s, n / s, r / 1024, w, (w > 0 ? s / w : 0) }'
done
