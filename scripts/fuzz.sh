#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target for a bounded time, starting from the seed corpus in
# fuzz/corpus/<target>. New inputs go to a scratch directory, never into the repository.
#   scripts/fuzz.sh                 # 30 s per target (what CI runs)
#   FUZZ_SECONDS=600 scripts/fuzz.sh [target...]   # longer runs
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a regression test beside the
# code it broke, then add the input to fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
# libFuzzer instrumentation needs unstable compiler flags; the stable toolchain accepts them with
# RUSTC_BOOTSTRAP, so no second toolchain is needed.
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cargo fuzz build --fuzz-dir fuzz -O
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  mkdir -p "$scratch/$t" "fuzz/corpus/$t"
  log="$scratch/$t.log"
  if ! cargo fuzz run --fuzz-dir fuzz -O "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED (input saved under fuzz/artifacts/$t/)"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || tail -n 3 "$log"
done
echo "fuzz: all targets ran without a crash"
