# Sourced by the bench scripts (load.sh, cpu-ab.sh, callgrind-serve.sh):
# the work directory, the servers they start, and their ports.

# bench_workdir: a fresh directory in $WORK; on exit every process in PIDS
# is stopped and the directory removed.
bench_workdir() {
    WORK=$(mktemp -d)
    PIDS=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}

# ports_free HINT PORT...: exits if something already listens on one of
# the ports, since measuring someone else's server would be wrong. HINT is
# appended to the message (say, which variable moves the port).
ports_free() {
    local hint=$1 port
    shift
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port is already in use: stop what listens there$hint" >&2
            exit 1
        fi
    done
}

# wait_port PORT [SECONDS]: returns once something listens on PORT; fails
# with a message after SECONDS (default 5).
wait_port() {
    local tries=$(( ${2:-5} * 20 ))
    for _ in $(seq 1 "$tries"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
