#!/usr/bin/env bash
# CPU time per request of two zaslon binaries under the same load, in the
# same run: the way to tell whether a change made `serve` cheaper when the
# machine's speed moves too much between runs for requests per second to
# show it.
#
#   benches/cpu-ab.sh OLD_BINARY NEW_BINARY [SIZE] [ROUNDS]
#
# e.g. build the previous commit into another target directory:
#
#   git worktree add /tmp/prev HEAD~1
#   (cd /tmp/prev && CARGO_TARGET_DIR=/tmp/prev-target cargo build --release --bin zaslon)
#   cargo build --release --bin zaslon
#   benches/cpu-ab.sh /tmp/prev-target/release/zaslon target/release/zaslon 16384 4
#
# Both serve the load bench's config (marketing, record-level consent, file
# consent journal, file audit sink) on ports 18090 and 18091 in front of one
# `bench-upstream --size SIZE` on 18081. Each round runs wrk (2 threads, 64
# connections, DURATION seconds, default 4) against each in turn, the order
# alternating, and reads the process's user+system time from /proc. Prints
# each round and the median of the NEW/OLD ratios.
#
# OLD_BINARY may be the word `hyper`: the baseline is then NEW_BINARY's bare
# hyper pass-through (`bench-passthrough`, no policy at all) on 18090, and
# NEW/OLD is what zaslon's policy work multiplies hyper's CPU per request by:
#
#   benches/cpu-ab.sh hyper target/release/zaslon 16384 5
set -euo pipefail

OLD=${1:?usage: benches/cpu-ab.sh OLD_BINARY|hyper NEW_BINARY [SIZE] [ROUNDS]}
NEW=${2:?usage: benches/cpu-ab.sh OLD_BINARY|hyper NEW_BINARY [SIZE] [ROUNDS]}
SIZE=${3:-1024}
ROUNDS=${4:-4}
DURATION=${DURATION:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
ports_free "" 18081 18090 18091
bench_workdir

# shellcheck source=benches/zaslon-config.sh
. "$ROOT/benches/zaslon-config.sh"
write_config 18090 18081 "$WORK/old" "$ROOT"
write_config 18091 18081 "$WORK/new" "$ROOT"

"$NEW" bench-upstream --listen 127.0.0.1:18081 --size "$SIZE" 2>/dev/null &
PIDS+=($!)
OLD_NAME=old; NEW_NAME=new
if [ "$OLD" = hyper ]; then
    OLD_NAME=hyper; NEW_NAME=zaslon
    "$NEW" bench-passthrough --listen 127.0.0.1:18090 --upstream http://127.0.0.1:18081 \
        2>"$WORK/old.log" &
else
    "$OLD" serve --config "$WORK/old/zaslon.toml" 2>"$WORK/old.log" &
fi
P_OLD=$!; PIDS+=("$P_OLD")
"$NEW" serve --config "$WORK/new/zaslon.toml" 2>"$WORK/new.log" &
P_NEW=$!; PIDS+=("$P_NEW")
for port in 18081 18090 18091; do wait_port "$port"; done

# CPU microseconds per request of PID during one wrk run against PORT.
cpu_per_request() {
    local t0 t1 out n
    t0=$(awk '{print $14 + $15}' "/proc/$1/stat")
    out=$(wrk -t2 -c64 -d"${DURATION}s" -H "x-api-key: $BENCH_KEY" \
        -H "x-purpose: marketing" "http://127.0.0.1:$2/api/patients")
    t1=$(awk '{print $14 + $15}' "/proc/$1/stat")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "non-2xx answers from port $2" >&2
        exit 1
    fi
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }'
}

RATIOS=()
for i in $(seq 1 "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then
        o=$(cpu_per_request "$P_OLD" 18090); n=$(cpu_per_request "$P_NEW" 18091)
    else
        n=$(cpu_per_request "$P_NEW" 18091); o=$(cpu_per_request "$P_OLD" 18090)
    fi
    r=$(awk -v o="$o" -v n="$n" 'BEGIN { printf "%.2f", n / o }')
    RATIOS+=("$r")
    printf "round %d: %s %7.1f us/request   %s %7.1f us/request   %s/%s %s\n" \
        "$i" "$OLD_NAME" "$o" "$NEW_NAME" "$n" "$NEW_NAME" "$OLD_NAME" "$r"
done
printf "%s\n" "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median %s: %.2f (size %s, %d rounds)\n", label, m, size, NR }' \
    size="$SIZE" label="$NEW_NAME/$OLD_NAME"
