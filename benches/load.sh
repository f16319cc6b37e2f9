#!/usr/bin/env bash
# Load benchmark: zaslon (redaction for `marketing`) vs nginx proxy_pass (no
# redaction, 1 worker) vs a bare hyper pass-through (`zaslon
# bench-passthrough`: no policy at all, the reference for what hyper alone
# costs) vs the upstream directly, for 1 KiB, 16 KiB and 256 KiB JSON
# responses, wrk at 64 connections. Loopback only, bounded: DURATION seconds
# per case (default 10), ROUNDS rounds (default 3) of 12 cases.
#
#   benches/load.sh            # builds the release binary, installs wrk/nginx if missing
#   DURATION=5 ROUNDS=3 benches/load.sh
#
# Each round measures the four targets back to back, in an order that
# rotates from round to round, and takes the ratios within the round; the
# summary gives the median of each ratio over the rounds, with every
# round's value, since the machine's speed moves between runs.
# WORKERS sets zaslon's `[limits] workers` (default 0: one per CPU).
#
# The proxy runs as `zaslon serve` with the file audit sink (group fsync)
# and the file consent journal in a temporary directory, as in production;
# PROXY_CMD=bench-proxy drops audit events instead (to measure the audit's
# cost).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
UP_PORT=${UP_PORT:-18081}
ZASLON_PORT=${ZASLON_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18082}
PASS_PORT=${PASS_PORT:-18083}
SIZES=${SIZES:-"1024 16384 262144"}
PROXY_CMD=${PROXY_CMD:-serve}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-0}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! { need nginx || [ -x /usr/sbin/nginx ]; }; then
    echo "installing wrk and nginx from Debian's packages" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq >/dev/null || true
    $SUDO apt-get install -y --no-install-recommends wrk nginx-light >/dev/null \
        || $SUDO apt-get install -y --no-install-recommends wrk nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building the release binary" >&2
(cd "$ROOT" && cargo build --release --locked --bin zaslon >&2)
BIN="$ROOT/target/release/zaslon"

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
bench_workdir

# shellcheck source=benches/zaslon-config.sh
. "$ROOT/benches/zaslon-config.sh"
KEY=$BENCH_KEY
write_config "$ZASLON_PORT" "$UP_PORT" "$WORK" "$ROOT"
printf '\n[limits]\nworkers = %s\n' "$WORKERS" >>"$WORK/zaslon.toml"

sed -e "s#@DIR@#$WORK#g" -e "s#@LISTEN@#127.0.0.1:$NGINX_PORT#g" \
    -e "s#@UPSTREAM@#127.0.0.1:$UP_PORT#g" "$ROOT/benches/nginx.conf.tmpl" >"$WORK/nginx.conf"


# wrk output -> "req/s p50 p99" (latencies in ms)
run_wrk() {
    local url=$1; shift
    local out
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "non-2xx responses from $url:" >&2
        echo "$out" >&2
        return 1
    fi
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n = n * 1000
        printf "%.2f", n
    }'
}

# median FORMAT NUMBER...: the middle number (the mean of the middle two
# for an even count), printed with the awk FORMAT.
median() {
    local fmt=$1; shift
    printf "%s\n" "$@" | sort -g | awk -v fmt="$fmt" '{ v[NR] = $1 } END {
        printf fmt, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A port already taken would mean measuring someone else's server.
ports_free ", or set UP_PORT/ZASLON_PORT/NGINX_PORT/PASS_PORT" \
    "$UP_PORT" "$ZASLON_PORT" "$NGINX_PORT" "$PASS_PORT"

printf "%-8s %-6s %-10s %12s %9s %9s\n" size round target "req/s" "p50 ms" "p99 ms"
SUMMARY=()
for size in $SIZES; do
    "$BIN" bench-upstream --listen "127.0.0.1:$UP_PORT" --size "$size" 2>/dev/null &
    UP_PID=$!; PIDS+=("$UP_PID")
    "$BIN" "$PROXY_CMD" --config "$WORK/zaslon.toml" 2>"$WORK/zaslon.log" &
    Z_PID=$!; PIDS+=("$Z_PID")
    "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" 2>"$WORK/nginx.out" &
    N_PID=$!; PIDS+=("$N_PID")
    "$BIN" bench-passthrough --listen "127.0.0.1:$PASS_PORT" \
        --upstream "http://127.0.0.1:$UP_PORT" 2>/dev/null &
    P_PID=$!; PIDS+=("$P_PID")
    wait_port "$UP_PORT"; wait_port "$ZASLON_PORT"; wait_port "$NGINX_PORT"; wait_port "$PASS_PORT"

    # Check zaslon answers 200 before measuring.
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" -H "x-purpose: marketing" \
        "http://127.0.0.1:$ZASLON_PORT/api/patients")
    [ "$code" = 200 ] || { echo "zaslon answered $code; log:" >&2; cat "$WORK/zaslon.log" >&2; exit 1; }

    got=$(curl -s "http://127.0.0.1:$UP_PORT/api/patients" | wc -c)
    if [ "$got" -lt $((size / 2)) ] || [ "$got" -gt $((size * 2)) ]; then
        echo "the upstream answered $got bytes, not about $size" >&2
        exit 1
    fi

    declare -A URL=(
        [upstream]="http://127.0.0.1:$UP_PORT/api/patients"
        [nginx]="http://127.0.0.1:$NGINX_PORT/api/patients"
        [hyper]="http://127.0.0.1:$PASS_PORT/api/patients"
        [zaslon]="http://127.0.0.1:$ZASLON_PORT/api/patients"
    )
    # One second of load each before measuring: connection pools, caches
    # and the audit file are warm in every round, not only after the first.
    for target in upstream nginx hyper zaslon; do
        wrk -t"$THREADS" -c"$CONNS" -d1s -H "x-api-key: $KEY" -H "x-purpose: marketing" \
            "${URL[$target]}" >/dev/null
    done
    ORDER=(upstream nginx hyper zaslon)
    ZN=(); HN=(); ZH=(); DP=()
    for round in $(seq 1 "$ROUNDS"); do
        declare -A RPS=() P50=() P99=()
        for target in "${ORDER[@]}"; do
            extra=()
            [ "$target" = zaslon ] && extra=(-H "x-api-key: $KEY" -H "x-purpose: marketing")
            read -r RPS[$target] P50[$target] P99[$target] < <(run_wrk "${URL[$target]}" "${extra[@]}")
        done
        for target in upstream nginx hyper zaslon; do
            printf "%-8s %-6s %-10s %12s %9s %9s\n" "$size" "$round" "$target" \
                "${RPS[$target]}" "${P50[$target]}" "${P99[$target]}"
        done
        ZN+=("$(awk -v a="${RPS[zaslon]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')")
        HN+=("$(awk -v a="${RPS[hyper]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')")
        ZH+=("$(awk -v a="${RPS[zaslon]}" -v b="${RPS[hyper]}" 'BEGIN { printf "%.2f", a / b }')")
        DP+=("$(awk -v a="${P99[zaslon]}" -v b="${P99[nginx]}" 'BEGIN { printf "%+.2f", a - b }')")
        ORDER=("${ORDER[@]:1}" "${ORDER[0]}")
    done
    SUMMARY+=("$(printf "%-8s zaslon/nginx %s (%s)  hyper/nginx %s (%s)  zaslon/hyper %s (%s)  p99 zaslon-nginx %s ms (%s)" \
        "$size" "$(median %.2f "${ZN[@]}")" "${ZN[*]}" "$(median %.2f "${HN[@]}")" "${HN[*]}" \
        "$(median %.2f "${ZH[@]}")" "${ZH[*]}" "$(median %+.2f "${DP[@]}")" "${DP[*]}")")

    kill "$Z_PID" "$N_PID" "$P_PID" "$UP_PID" 2>/dev/null || true
    wait "$Z_PID" "$N_PID" "$P_PID" "$UP_PID" 2>/dev/null || true
    PIDS=()
done
echo
echo "medians of $ROUNDS rounds (each round's value in brackets):"
printf "%s\n" "${SUMMARY[@]}"
