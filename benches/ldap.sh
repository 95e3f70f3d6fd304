#!/usr/bin/env bash
# Benchmark: read N people from a throwaway slapd with ldapsearch and with roster.
#
#   benches/ldap.sh [N]          # N defaults to 100000
#   PAGE=1000 benches/ldap.sh    # page size for both tools (default 1000)
#   ROSTER=path benches/ldap.sh  # time that binary instead of building one
#
# Loads N inetOrgPerson entries (some with non-ASCII names) with slapadd, starts slapd on
# 127.0.0.1, then times, as the non-root reader with paged results:
#   ldapsearch -x -E pr=PAGE/noprompt ... > /dev/null
#   roster convert ldap://... out.jsonl
# and prints both wall times, their ratio, and both peak RSS (from /usr/bin/time -v).
# Needs slapd, ldap-utils and time (apt-get install slapd ldap-utils time). Builds roster
# with `cargo build --release`. Touches nothing but 127.0.0.1 and a temporary directory.
set -euo pipefail

N=${1:-100000}
PAGE=${PAGE:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUFFIX="dc=example,dc=org"
PEOPLE="ou=people,$SUFFIX"
READER="cn=reader,$SUFFIX"
READER_PW=readerpw
ATTRS=('*' entryUUID nsUniqueId objectGUID nsAccountLock pwdAccountLockedTime userAccountControl)

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || { echo "$1 not found: $2" >&2; exit 1; }; }
need slapd "apt-get install slapd ldap-utils"
need slapadd "apt-get install slapd ldap-utils"
need ldapsearch "apt-get install ldap-utils"
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
PATH="$PATH:/usr/sbin"

if [ -z "${ROSTER:-}" ]; then
    echo "building roster (release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet)
    ROSTER="$ROOT/target/release/roster"
fi

D=$(mktemp -d /tmp/roster-ldap-bench.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$D"
}
trap cleanup EXIT
mkdir -p "$D/db"

cat > "$D/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile $D/slapd.pid
argsfile $D/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
database mdb
maxsize 4294967296
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw secret
directory $D/db
index objectClass eq
index uid,mail eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
EOF

echo "generating $N entries..." >&2
# Non-ASCII names are written base64-encoded (LDIF `::`), as exporters do.
b64() { printf '%s' "$1" | base64 -w0; }
GIVEN=("$(b64 'Zoë')" "$(b64 '李')" "$(b64 'José')" "QW5u")
SN=("$(b64 'Müller')" "$(b64 '小龙')" "$(b64 'Núñez')" "U21pdGg=")
{
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n' "$SUFFIX"
    printf 'dn: %s\nobjectClass: organizationalUnit\nou: people\n\n' "$PEOPLE"
    printf 'dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: %s\n\n' "$READER" "$READER_PW"
    awk -v n="$N" -v people="$PEOPLE" \
        -v g0="${GIVEN[0]}" -v g1="${GIVEN[1]}" -v g2="${GIVEN[2]}" -v g3="${GIVEN[3]}" \
        -v s0="${SN[0]}" -v s1="${SN[1]}" -v s2="${SN[2]}" -v s3="${SN[3]}" 'BEGIN {
        split(g0 " " g1 " " g2 " " g3, g, " "); split(s0 " " s1 " " s2 " " s3, s, " ")
        for (i = 0; i < n; i++) {
            uid = sprintf("user%06d", i); k = i % 4 + 1
            printf "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Person %d\n", uid, people, uid, i
            printf "givenName:: %s\nsn:: %s\ndisplayName: Person %d\nmail: %s@example.org\n", g[k], s[k], i, uid
            printf "employeeNumber: %d\ntitle: Engineer\n\n", 100000 + i
        }
    }'
} > "$D/data.ldif"

echo "loading with slapadd -q..." >&2
slapadd -q -f "$D/slapd.conf" -l "$D/data.ldif"

PORT=${PORT:-$((20000 + RANDOM % 30000))}
slapd -d 0 -f "$D/slapd.conf" -h "ldap://127.0.0.1:$PORT/" >"$D/slapd.log" 2>&1 &
PID=$!
for _ in $(seq 1 200); do
    ldapwhoami -x -H "ldap://127.0.0.1:$PORT" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { echo "slapd exited:" >&2; cat "$D/slapd.log" >&2; exit 1; }
    sleep 0.05
done
ldapwhoami -x -H "ldap://127.0.0.1:$PORT" >/dev/null

# Seconds from /usr/bin/time -v's "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03".
wall() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

echo "ldapsearch..." >&2
/usr/bin/time -v -o "$D/ldapsearch.time" \
    ldapsearch -x -LLL -H "ldap://127.0.0.1:$PORT" -D "$READER" -w "$READER_PW" \
    -E "pr=$PAGE/noprompt" -b "$PEOPLE" '(objectClass=inetOrgPerson)' "${ATTRS[@]}" > "$D/ldapsearch.out"
LS_N=$(grep -c '^dn: ' "$D/ldapsearch.out" || true)

echo "roster convert..." >&2
set +e
ROSTER_LDAP_PASSWORD=$READER_PW /usr/bin/time -v -o "$D/roster.time" \
    "$ROSTER" convert "ldap://127.0.0.1:$PORT/$PEOPLE" "$D/out.jsonl" \
    --bind-dn "$READER" --page-size "$PAGE" 2> "$D/roster.err"
RC=$?
set -e
if [ "$RC" -ne 0 ]; then
    echo "roster convert failed (exit $RC):" >&2
    cat "$D/roster.err" >&2
    exit 1
fi
R_N=$(wc -l < "$D/out.jsonl")

LS_T=$(wall "$D/ldapsearch.time")
R_T=$(wall "$D/roster.time")
printf '\n%d entries, page size %d\n' "$N" "$PAGE"
printf '  ldapsearch     %8.2f s  %8d KB peak RSS  %d entries\n' "$LS_T" "$(rss "$D/ldapsearch.time")" "$LS_N"
printf '  roster convert %8.2f s  %8d KB peak RSS  %d lines\n' "$R_T" "$(rss "$D/roster.time")" "$R_N"
awk -v r="$R_T" -v l="$LS_T" 'BEGIN { if (l > 0) printf "  ratio roster/ldapsearch: %.2f\n", r / l }'
