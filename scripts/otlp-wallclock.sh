#!/usr/bin/env bash
# CPU per GenAI span (or OTLP metric point) end to end, wall clock: meterd (shipped config, ports
# moved) and `meterd-load otlp --kind spans` (1000-span requests of the four models the shipped
# table prices, each request new calls) on their own cores, N runs; with several builds they run
# alternately (A B A B ...), each a fresh process on a fresh data dir. CPU is divided by the items
# meterd counted (meterd_otlp_items_received_total), not by what the client believes it sent. The load
# average before and after each run tells a quiet run from a busy one; compare builds only within
# one invocation. `scripts/span-instructions.sh` counts instructions instead (stable when busy).
#
#   scripts/otlp-wallclock.sh [options] [LABEL=]METERD_BINARY ...
#     --load BIN          meterd-load binary (default target/release/examples/meterd-load)
#     --transport T       grpc or http (default grpc)
#     --kind K            spans or metrics (1000-point requests of cumulative sums; default spans)
#     --series N          distinct series (default 4 for spans: the priced models; 10000 for metrics)
#     --runs N            runs per build (default 5)
#     --duration D        per run (default 10s)
#     --senders N         connections (default 2)
#     --inflight N        requests in flight per connection (default 4)
#     --meterd-cpu C      taskset list for meterd (default 0)
#     --sender-cpu C      taskset list for the load generator (default 1)
#     --port P            first of four consecutive ports: StatsD, OTLP gRPC, OTLP HTTP, HTTP
#                         (default 38125)
# Columns: load average before and after; items sent (client), received and turned into usage
# events (meterd; spans only); items/s received; meterd's CPU over the run, of one core;
# us/item = meterd's CPU per item received; rss = meterd's resident memory at the end, MiB.
#
# Example (BENCHMARKS.md "GenAI spans, wall clock"):
#   scripts/otlp-wallclock.sh --runs 5 base=/work/bench/meterd-base head=target/release/meterd
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/pinned.sh"
load=$repo/target/release/examples/meterd-load
transport=grpc kind=spans series= runs=5 duration=10s senders=2 inflight=4 mcpu=0 scpu=1 port=38125
builds=()
while [ $# -gt 0 ]; do
    case $1 in
    --transport) transport=$2; shift 2 ;;
    --kind) kind=$2; shift 2 ;;
    --series) series=$2; shift 2 ;;
    --senders) senders=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    -h | --help) pinned_help "$0" ;;
    -*) pinned_option "$@"; shift 2 ;;
    *) builds+=("$1"); shift ;;
    esac
done
pinned_builds_ready
case $kind in
spans) series=${series:-4} ;;
metrics) series=${series:-10000} ;;
*) echo "--kind: spans or metrics" >&2; exit 2 ;;
esac
case $transport in
grpc) endpoint=http://127.0.0.1:$((port + 1)) ;;
http) endpoint=http://127.0.0.1:$((port + 2)) ;;
*) echo "--transport: grpc or http" >&2; exit 2 ;;
esac

pinned_setup
echo "# $kind over $transport, $senders connections x $inflight in flight, 1000 per request, $series series," \
    "duration=$duration, meterd on cpu $mcpu, load generator on cpu $scpu"
printf '%-4s %-10s %-6s %-6s %10s %10s %10s %9s %6s %8s %6s\n' run build load0 load1 sent received \
    events items/s cpu% us/item rss

for ((r = 1; r <= runs; r++)); do
    for b in "${builds[@]}"; do
        label=${b%%=*} bin=${b#*=}
        [ "$label" = "$b" ] && label=$(basename "$bin")
        pinned_start "$bin" "$mcpu"
        load0=$(cut -d' ' -f1 /proc/loadavg)
        out=$(taskset -c "$scpu" "$load" otlp --kind "$kind" --transport "$transport" \
            --endpoint "$endpoint" --metrics "http://127.0.0.1:$((port + 3))/metrics" --pid "$pid" \
            --duration "$duration" --senders "$senders" --inflight "$inflight" --series "$series" 2>&1) ||
            { echo "$out" >&2; exit 1; }
        load1=$(cut -d' ' -f1 /proc/loadavg)
        pinned_stop
        echo "$out" | awk -v r="$r" -v b="$label" -v l0="$load0" -v l1="$load1" -v d="$duration" '
            /^sent / { sent = $2; secs = $5 }
            /^meterd_otlp_items_received_total/ { recv = substr($2, 2) }
            /^meterd_usage_events_total/ { ev = substr($2, 2) }
            /^meterd cpu/ { cpus = $3; cpu = $5; gsub(/[(%]/, "", cpu) }
            /^meterd rss/ { rss = $3 }
            END { printf "%-4s %-10s %-6s %-6s %10d %10d %10d %9.0f %6s %8.3f %6s\n", r, b, l0, l1,
                  sent, recv, ev, secs ? recv / secs : 0, cpu, recv ? 1e6 * cpus / recv : 0, rss }'
    done
done
