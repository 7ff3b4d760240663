#!/usr/bin/env bash
# StatsD loss end to end: meterd pinned to one core, `meterd-load statsd` (one sender thread,
# 20 lines per packet, 10k series) pinned to another, N runs; prints the lines lost per run with
# the load average, so runs on a busy machine can be told from quiet ones. With several builds
# they run alternately (A B A B ...), each on a fresh data dir and a fresh process.
#
#   scripts/statsd-loss.sh [options] [LABEL=]METERD_BINARY ...
#     --load BIN          meterd-load binary (default target/release/examples/meterd-load)
#     --runs N            runs per build (default 5)
#     --duration D        per run (default 30s)
#     --rate R            lines per second offered (default 4000000)
#     --series N          (default 10000)
#     --threads N         statsd.udp_receive_threads (default 1: the receive thread parses)
#     --buffer SIZE       statsd.udp_receive_buffer (default 32MiB; the kernel caps it at
#                         net.core.rmem_max, which this script only reads)
#     --meterd-cpu C      taskset list for meterd (default 0)
#     --sender-cpu C      taskset list for the sender (default 1)
#     --port P            first of four consecutive ports: StatsD, OTLP gRPC, OTLP HTTP, HTTP
#                         (default 28125)
#     --keep DIR          keep each run's config, log and load output under DIR
#     --max-lag D         the sender gives up lines it owes past this lag instead of sending them
#                         flat out (default 20ms; 0s always catches up, as figures before h26s did:
#                         a sender descheduled for 400 ms then offers 1.6 M lines at its top speed)
# Columns: load average before and after; lines sent and received (meterd_statsd_lines_received_total);
# kernel = the socket's drop counter (/proc/net/udp), counted = meterd_statsd_packets_dropped_total
# (receive_buffer + queue_full), in packets; cpu% = meterd's CPU over the run, of one core;
# lag_ms = how far the sender fell behind its schedule at most; gaveup = lines it did not send
# because it was more than --max-lag behind (not counted as sent, so not as lost).
#
# Example (the figures in BENCHMARKS.md "StatsD at 4 M lines/s: the stalls"):
#   sudo sysctl -w net.core.rmem_max=33554432
#   scripts/statsd-loss.sh --runs 10 base=/work/bench/meterd-h26s-base head=target/release/meterd
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/pinned.sh"
load=$repo/target/release/examples/meterd-load
runs=5 duration=30s rate=4000000 series=10000 threads=1 buffer=32MiB
mcpu=0 scpu=1 port=28125 keep= maxlag=20ms
builds=()
while [ $# -gt 0 ]; do
    case $1 in
    --rate) rate=$2; shift 2 ;;
    --series) series=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --buffer) buffer=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --max-lag) maxlag=$2; shift 2 ;;
    -h | --help) pinned_help "$0" ;;
    -*) pinned_option "$@"; shift 2 ;;
    *) builds+=("$1"); shift ;;
    esac
done
pinned_builds_ready

# The shipped config, ports moved, the StatsD receive settings under test.
pinned_setup -e "s/^\(  udp_receive_buffer:\) *[^ ]*/\1 $buffer/" \
    -e "s/^\(  udp_receive_threads:\) *[^ ]*/\1 $threads/"
[ -n "$keep" ] && mkdir -p "$keep" && cp "$work/meterd.yaml" "$keep/"
echo "# rate=$rate lines/s, $series series, duration=$duration, udp_receive_threads=$threads," \
    "udp_receive_buffer=$buffer, net.core.rmem_max=$(cat /proc/sys/net/core/rmem_max)," \
    "meterd on cpu $mcpu, sender on cpu $scpu"
printf '%-4s %-10s %-6s %-6s %12s %12s %9s %8s %8s %7s %8s %8s\n' run build load0 load1 sent received \
    lost% kernel counted cpu% lag_ms gaveup

for ((r = 1; r <= runs; r++)); do
    for b in "${builds[@]}"; do
        label=${b%%=*} bin=${b#*=}
        [ "$label" = "$b" ] && label=$(basename "$bin")
        pinned_start "$bin" "$mcpu"
        load0=$(cut -d' ' -f1 /proc/loadavg)
        out=$(taskset -c "$scpu" "$load" statsd --target "127.0.0.1:$port" \
            --metrics "http://127.0.0.1:$((port + 3))/metrics" --pid "$pid" \
            --duration "$duration" --series "$series" --senders 1 --rate "$rate" --max-lag "$maxlag" 2>&1) ||
            { echo "$out" >&2; exit 1; }
        load1=$(cut -d' ' -f1 /proc/loadavg)
        pinned_stop
        [ -n "$keep" ] && { echo "$out" >"$keep/run$r-$label.txt"; cp "$work/meterd.log" "$keep/run$r-$label.log"; }
        echo "$out" | awk -v r="$r" -v b="$label" -v l0="$load0" -v l1="$load1" '
            /^sent / { sent = $2 }
            /^meterd_statsd_lines_received_total/ { recv = substr($2, 2) }
            /^meterd_statsd_packets_dropped_total/ { queue = substr($2, 2) }
            /^kernel udp drops/ { kern = substr($4, 2) }
            /^meterd cpu/ { cpu = $5; gsub(/[(%]/, "", cpu) }
            /^sender lag/ { lag = $4; gaveup = $(NF - 3) }
            END { printf "%-4s %-10s %-6s %-6s %12d %12d %9.3f %8d %8d %7s %8s %8s\n", r, b, l0, l1,
                  sent, recv, sent ? 100 * (sent - recv) / sent : 0, kern, queue, cpu, lag, gaveup }'
    done
done
