#!/usr/bin/env bash
# Instructions per StatsD line in a parser worker (parse, pre-aggregation, flush to the store),
# counted by callgrind over the criterion bench's measured iterations. Unlike wall clock it does not
# move when something else runs on the machine, so it can compare two builds on a busy 2-core box.
# It does not see cache misses: confirm a gain with the wall-clock bench or `meterd-load statsd`.
#
#   scripts/statsd-instructions.sh [bench filter, default: parse_map_store$]
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-'parse_map_store$'}
bench=$(cargo bench --bench statsd --no-run --message-format=json 2>/dev/null |
    grep '"kind":\["bench"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" --bench --profile-time 3 "$filter" \
    >/dev/null 2>&1
# The inclusive cost and call count of Worker::datagrams as called from criterion's timed loop; the
# bench's packets hold 20 lines each.
callgrind_annotate --inclusive=yes --tree=caller "$out" |
    awk '/Bencher<M>::iter/ && /Worker::datagrams|ingest\.rs/ {
        ir = $1; gsub(",", "", ir); n = $NF; gsub(/[()x,]/, "", n)
        printf "%.0f instructions per line (%d packets of 20 lines)\n", ir / (n * 20), n; exit }'
