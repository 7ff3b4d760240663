#!/usr/bin/env bash
# Instructions per GenAI span end to end: the built meterd runs under callgrind on a config with
# moved ports while `meterd-load otlp --kind spans` sends it 1000-span requests (the four models
# the shipped table prices) over gRPC or HTTP; then every stage's inclusive count is divided by the
# spans meterd counted. Start-up (config and price table) is left out: it runs on the main thread
# before any request. Unlike wall clock this does not move when other work shares the machine, so
# two builds compare on a busy 2-core box; it does not see cache misses or lock contention between
# request threads (valgrind runs one thread at a time): confirm with `meterd-load` wall clock.
#
#   scripts/span-instructions.sh [grpc|http] [meterd binary] [seconds]
# KEEP=DIR keeps the profile (cg.out) and its inclusive listing (incl.txt) in DIR, for
# `callgrind_annotate DIR/cg.out` by self cost.
# Needs valgrind, and `cargo build --release --bin meterd --example meterd-load` first.
set -euo pipefail
cd "$(dirname "$0")/.."
transport=${1:-grpc}
meterd=${2:-target/release/meterd}
secs=${3:-20}
load=target/release/examples/meterd-load
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
sed -e 's/:8125/:28125/g; s/:4317/:24317/; s/:4318/:24318/; s/0.0.0.0:9464/127.0.0.1:29464/' \
    config/meterd.yaml >"$dir/meterd.yaml"
cp -r config/pricing.yaml config/pricing "$dir/"
METERD_DATA_DIR="$dir/data" valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
    "$meterd" --config "$dir/meterd.yaml" >"$dir/meterd.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
    curl -sf http://127.0.0.1:29464/metrics >/dev/null && break
    sleep 1
done
case $transport in
grpc) endpoint=http://127.0.0.1:24317 ;;
http) endpoint=http://127.0.0.1:24318 ;;
*) echo "transport: grpc or http" >&2; exit 2 ;;
esac
"$load" otlp --kind spans --transport "$transport" --endpoint "$endpoint" \
    --metrics http://127.0.0.1:29464/metrics --duration "${secs}s" --pid "$pid" \
    --senders 1 --inflight 2 --series 4 >"$dir/load.txt" 2>&1
kill -INT "$pid"
wait "$pid" || true
spans=$(awk '/meterd_usage_events_total/ { gsub(/\+/, "", $2); print $2 }' "$dir/load.txt")
callgrind_annotate --inclusive=yes "$dir/cg.out" >"$dir/incl.txt"
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$dir/cg.out" "$dir/incl.txt" "$dir/load.txt" "$KEEP/"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/incl.txt")
startup=$(awk '/meterd::main \[/ { gsub(",", "", $1); print $1; exit }' "$dir/incl.txt")
echo "$spans spans over $transport"
awk -v n="$spans" -v t="$total" -v s="$startup" '
    BEGIN { printf "%-58s %8.0f\n", "per span, everything but start-up", (t - s) / n }
    /Ingest::traces_in_place \[|view::traces::decode_traces \[|genai::span_usage \[|SpanReader>?::span_usage \[|Ingest::price_chunk \[|Pipeline::usage_events \[|Deriver::usage_priced \[|combined::Combined::(push|apply) \[|SharedLedger::record_batch \[|dedup::Window::observe \[|take_dirty \[/ {
        if (!match($0, /\.rs:[^[]*/)) next
        name = substr($0, RSTART + 4, RLENGTH - 5); sub(/^meterd::/, "", name)
        if (seen[name]++) next
        ir = $1; gsub(",", "", ir)
        printf "  %-56s %8.0f\n", name, ir / n
    }' "$dir/incl.txt"
