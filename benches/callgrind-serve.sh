#!/usr/bin/env bash
# Instructions per request of `zaslon serve`, counted by callgrind: a
# figure that does not move with the machine's speed or load, for telling
# whether a change to the per-request path made it cheaper.
#
#   benches/callgrind-serve.sh [BINARY] [SIZE] [REQUESTS]
#
# BINARY defaults to target/release/zaslon (build it first), SIZE to 1024,
# REQUESTS to 3000. It serves the load bench's config (benches/zaslon-config.sh:
# marketing, record-level consent, file consent journal, file audit sink) on
# port 18090 under valgrind, in front of `bench-upstream --size SIZE` on
# 18081, sends REQUESTS GETs over two keep-alive connections from Python,
# and prints the process's instructions divided by REQUESTS (start-up
# included: about 2,400 per request at 3,000 requests). The profile stays
# in callgrind.out.serve for callgrind_annotate.
#
# valgrind hides the CPU's SHA extensions, so SHA-256 (the audit chain, the
# API key hash, HMAC pseudonyms) counts in its software form, several times
# its real cost; compare binaries with each other, not with wall time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/release/zaslon}
SIZE=${2:-1024}
N=${3:-3000}
for tool in valgrind python3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "$BIN is not built: cargo build --release --bin zaslon" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
ports_free "" 18081 18090
bench_workdir

# shellcheck source=benches/zaslon-config.sh
. "$ROOT/benches/zaslon-config.sh"
write_config 18090 18081 "$WORK" "$ROOT"

"$BIN" bench-upstream --listen 127.0.0.1:18081 --size "$SIZE" 2>/dev/null &
PIDS+=($!)
valgrind --tool=callgrind --callgrind-out-file=callgrind.out.serve \
    "$BIN" serve --config "$WORK/zaslon.toml" 2>"$WORK/valgrind.log" &
VG=$!
PIDS+=("$VG")
# valgrind takes seconds to start the proxy.
wait_port 18081
wait_port 18090 60

python3 - "$N" <<'PY'
import http.client, sys, threading

n = int(sys.argv[1])
failed = []

def run(k):
    c = http.client.HTTPConnection("127.0.0.1", 18090)
    for _ in range(k):
        c.request("GET", "/api/patients",
                  headers={"x-api-key": "bench-marketing-key", "x-purpose": "marketing"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            failed.append(r.status)
            return

threads = [threading.Thread(target=run, args=(k,)) for k in (n // 2, n - n // 2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failed:
    sys.exit(f"a request failed with status {failed[0]}")
PY

kill -INT "$VG"
wait "$VG" || true
total=$(awk '/^(summary|totals):/ {print $2; exit}' callgrind.out.serve)
[ -n "$total" ] || { echo "no callgrind totals: see $WORK/valgrind.log" >&2; cat "$WORK/valgrind.log" >&2; exit 1; }
python3 -c "print(f'size $SIZE: {$total / $N:,.0f} instructions per request ({$total:,} over $N requests)')"
