#!/usr/bin/env bash
# What stalled the StatsD receive thread: one scripts/statsd-loss.sh run under `perf record`
# (scheduler switches on every CPU, the receive thread's recvmmsg calls, the kernel's receive
# buffer drops), then per second: lines received, the thread's CPU per line, what else ran on
# meterd's core and the sender's, and the drops; and the longest gaps between two recvmmsg calls
# with what ran meanwhile. Needs perf (linux-perf / linux-tools) and python3; run as root.
#
#   scripts/statsd-stalls.sh [statsd-loss.sh options, one build]
#   e.g. scripts/statsd-stalls.sh --duration 30s head=target/release/meterd
# Steal time per second (the hypervisor running something else on a vCPU) is printed from
# /proc/stat alongside: in a VM it is invisible to the scheduler trace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mcpu=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = --meterd-cpu ] && mcpu=${args[$((i + 1))]}
done
(while :; do echo "$(date +%s) $(grep '^cpu[0-9]' /proc/stat | awk '{printf "%s:%s ", $1, $9}')"; sleep 1; done) >"$out/steal" &
stealer=$!
perf record -q -o "$out/perf.data" -a -e sched:sched_switch \
    -e skb:kfree_skb --filter 'reason == 6' \
    -e syscalls:sys_enter_recvmmsg -e syscalls:sys_exit_recvmmsg -- sleep 600 >/dev/null 2>&1 &
perfpid=$!
sleep 1
"$here/statsd-loss.sh" --runs 1 "$@"
kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true
kill "$stealer"
perf script -i "$out/perf.data" -F tid,cpu,time,event,trace 2>/dev/null >"$out/trace"
echo "# steal (hypervisor) per second, in 1/100 s of each CPU, while the run lasted:"
awk '{ line = $1; nz = 0
    for (i = 2; i <= NF; i++) { split($i, a, ":"); if (a[1] in p) { d = a[2] - p[a[1]]; line = line " " a[1] "=" d; if (d > 0) nz = 1 } p[a[1]] = a[2] }
    if (nz) print line }' "$out/steal"
python3 - "$out/trace" "$mcpu" <<'EOF'
import collections, re, sys
path, mcpu = sys.argv[1], int(sys.argv[2].split(",")[0])
ev = re.compile(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
sw = re.compile(r"prev_comm=(.*) prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)")
lines = [l for l in open(path) if "sys_exit_recvmmsg" in l]
if not lines:
    sys.exit("no recvmmsg calls traced: is udp_receive_threads >= 1?")
tid = ev.match(lines[0])[1]
t0 = None
pk, cpu, drops, other, who = (collections.Counter() for _ in range(5))
since, on, last_exit, gap_cpu = {}, None, None, 0.0
gaps, runs = [], []
for line in open(path):
    m = ev.match(line)
    if not m:
        continue
    t, c, name = float(m[3]), int(m[2]), m[4]
    t0 = t if t0 is None else t0
    b = int(t - t0)
    if name == "sched:sched_switch":
        s = sw.search(m[5])
        prev = s[1] + "/" + s[2]
        if c in since and s[2] != "0" and s[2] != tid:
            other[(b, c)] += t - since[c]
            runs.append((since[c], t, c, prev))
        since[c] = t
        if s[2] == tid and on is not None:
            cpu[b] += t - on
            if last_exit is not None:
                gap_cpu += t - max(on, last_exit)
            on = None
        if s[5] == tid:
            on = t
    elif m[1] == tid and name == "syscalls:sys_exit_recvmmsg":
        n = int(m[5], 16) if m[5].startswith("0x") else 0
        pk[b] += n if n < 1 << 16 else 0  # an error (timeout) comes back as a negative number
        last_exit, gap_cpu = t, 0.0
    elif m[1] == tid and name == "syscalls:sys_enter_recvmmsg" and last_exit is not None:
        if on is not None:
            gap_cpu += t - max(on, last_exit)
        gaps.append((t - last_exit, last_exit, gap_cpu))
    elif name == "skb:kfree_skb":
        drops[b] += 1
print("# receive thread %s on cpu %d; per second of the trace:" % (tid, mcpu))
print("%4s %9s %9s %10s %12s %12s %8s" % ("s", "datagrams", "thread%", "us/dgram", "others@mcpu", "others@else", "dropped"))
for b in sorted(set(pk) | set(drops)):
    o = other[(b, mcpu)]
    e = sum(v for (bb, c), v in other.items() if bb == b and c != mcpu)
    print("%4d %9d %9.1f %10.2f %10.0fms %10.0fms %8d" % (b, pk[b], 100 * cpu[b], 1e6 * cpu[b] / max(pk[b], 1), 1e3 * o, 1e3 * e, drops[b]))
print("# longest gaps between two recvmmsg calls: ms, at s, ms the thread ran, what else ran on cpu %d" % mcpu)
for g, at, c in sorted(gaps, reverse=True)[:15]:
    w = collections.Counter()
    for a, z, cc, p in runs:
        if cc == mcpu and z > at and a < at + g:
            w[p] += min(z, at + g) - max(a, at)
    print("%7.2f %8.3f %7.2f  %s" % (1e3 * g, at - t0, 1e3 * c, ", ".join("%s %.1fms" % (k, 1e3 * v) for k, v in w.most_common(3))))
EOF
