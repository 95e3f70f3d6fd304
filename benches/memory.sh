#!/usr/bin/env bash
# Peak memory of `roster validate` on inputs made of large records, whatever their number:
# CSV rows of 8 MB, LDIF records of 8 MB (a base64 jpegPhoto) and JSON lines of 8 MB (36 of
# each, just under the default --max-record-size; 290 MB per file), then the same as 3,600
# records of 80 KB. Memory is bounded by bytes (chunks of at most 2 MiB, 16 MiB in flight,
# one record at most --max-record-size), so the peak stays far below the goal (150 MB) and far below the
# file's size. The baseline in the same run: `roster validate` on a 10-row file, and with
# BASELINE=path/to/another/roster, that binary on the same files (e.g. an older release).
#   benches/memory.sh            (RECORD_MB=8 RECORDS=36 BASELINE=)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${RECORD_MB:-8}
n=${RECORDS:-36}
cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" "$mb" "$n" <<'EOF'
import base64, json, sys
d, mb, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def files(tag, size, count):
    note = "n" * size
    with open(f"{d}/{tag}.csv", "w") as f:
        f.write("username,email,name,note\n")
        for i in range(count):
            f.write(f"u{i},u{i}@example.org,User {i},{note}\n")
    photo = base64.b64encode(b"\xff" * (size * 3 // 4)).decode()
    with open(f"{d}/{tag}.ldif", "w") as f:
        f.write("version: 1\n\n")
        for i in range(count):
            f.write(f"dn: uid=u{i},ou=people,dc=example,dc=org\nuid: u{i}\nmail: u{i}@example.org\ncn: User {i}\njpegPhoto:: ")
            # LDIF folds long lines: 76 columns, continuation lines start with a space.
            f.write("\n ".join(photo[j:j + 75] for j in range(0, len(photo), 75)))
            f.write("\n\n")
    with open(f"{d}/{tag}.jsonl", "w") as f:
        for i in range(count):
            f.write(json.dumps({"username": f"u{i}", "email": f"u{i}@example.org", "name": f"User {i}", "note": note}) + "\n")
files("large", mb * 1000 * 1000, n)
files("many", mb * 1000 * 1000 // 100, n * 100)
files("small", 10, 10)
EOF
sync
peak() { { /usr/bin/time -f "%M" "${2:-target/release/roster}" validate "$1" --quiet >/dev/null; } 2>&1 | tail -1; }
for fmt in csv ldif jsonl; do
    base=$(peak "$dir/small.$fmt")
    for tag in large many; do
        f="$dir/$tag.$fmt"
        size=$(du -m "$f" | cut -f1)
        rss=$(peak "$f")
        old=0
        if [ -n "${BASELINE:-}" ]; then old=$(peak "$f" "$BASELINE"); fi
        awk -v f="$fmt" -v t="$tag" -v s="$size" -v r="$rss" -v b="$base" -v o="$old" 'BEGIN {
            printf "%-5s %-5s %4d MB file: peak RSS %4.0f MB (10-row file: %3.0f MB; %.2f of the file size)",
                   f, t, s, r / 1024, b / 1024, r / 1024 / s
            if (o > 0) printf "; BASELINE %4.0f MB (%.1fx this one)", o / 1024, o / r
            printf "\n" }'
    done
done
