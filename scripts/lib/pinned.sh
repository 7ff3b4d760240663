# Shared by the pinned end-to-end measurements (statsd-loss.sh, otlp-wallclock.sh): a work
# directory holding the shipped config with its four listeners moved to PORT..PORT+3 (StatsD,
# OTLP gRPC, OTLP HTTP, HTTP), and one meterd at a time started on it, pinned to a CPU list.
# Sourced; uses and sets: repo, port, work, pid.

# The options every measurement takes (--load, --runs, --duration, --meterd-cpu, --sender-cpu,
# --port): sets load, runs, duration, mcpu, scpu or port from "$1 $2"; fails for any other.
pinned_option() {
    case $1 in
    --load) load=$2 ;;
    --runs) runs=$2 ;;
    --duration) duration=$2 ;;
    --meterd-cpu) mcpu=$2 ;;
    --sender-cpu) scpu=$2 ;;
    --port) port=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
}

# The calling script's header comment, as its --help.
pinned_help() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
    exit 0
}

# After the options: the builds ([LABEL=]BINARY, default head=target/release/meterd) and the
# load generator must be executable.
pinned_builds_ready() {
    local b
    [ ${#builds[@]} -gt 0 ] || builds=("head=$repo/target/release/meterd")
    [ -x "$load" ] || { echo "no meterd-load at $load (cargo build --release --example meterd-load)" >&2; exit 2; }
    for b in "${builds[@]}"; do
        [ -x "${b#*=}" ] || { echo "not an executable: ${b#*=}" >&2; exit 2; }
    done
}

# The work directory with the config; its extra sed expressions (-e ...) are applied after the
# ports are moved. Removed, with any meterd still running, when the script exits.
pinned_setup() {
    work=$(mktemp -d)
    pid=
    trap pinned_cleanup EXIT
    cp -r "$repo/config/." "$work/"
    sed -i -e "s/127.0.0.1:8125/127.0.0.1:$port/g" \
        -e "s/127.0.0.1:4317/127.0.0.1:$((port + 1))/" \
        -e "s/127.0.0.1:4318/127.0.0.1:$((port + 2))/" \
        -e "s/0.0.0.0:9464/127.0.0.1:$((port + 3))/" "$@" "$work/meterd.yaml"
    grep -q "statsd_udp: 127.0.0.1:$port" "$work/meterd.yaml" &&
        grep -q "127.0.0.1:$((port + 1))" "$work/meterd.yaml" ||
        { echo "could not move the listeners in config/meterd.yaml" >&2; exit 2; }
}

pinned_cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}

# BINARY on CPU list CPUS, a fresh data directory, until its /metrics answers (30 s at most).
pinned_start() {
    local bin=$1 cpus=$2 up=
    rm -rf "$work/data" && mkdir "$work/data"
    METERD_DATA_DIR=$work/data taskset -c "$cpus" "$bin" --config "$work/meterd.yaml" \
        >"$work/meterd.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$((port + 3))/metrics" && up=1 && break
        sleep 0.1
    done
    [ -n "$up" ] || { cat "$work/meterd.log" >&2; echo "meterd did not start" >&2; exit 1; }
}

pinned_stop() {
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=
}
