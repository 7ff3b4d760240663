#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target for a bounded time, starting from the seed corpus in
# fuzz/corpus/<target>. New inputs go to a scratch directory, never into the repository.
#   scripts/fuzz.sh                                   # CI: FUZZ_SECONDS per target (default below)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh [target...]     # long runs
#   FUZZ_SANITIZER=address scripts/fuzz.sh            # AddressSanitizer build (much slower build)
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a regression test beside the
# code it broke, then add the input to fuzz/corpus/<target>/.
#
# Why no sanitizer by default: meterd and its dependencies are safe Rust, so what fuzzing can find
# is panics, aborts, unbounded allocation and hangs, which libFuzzer catches without ASan. ASan
# instruments the whole dependency tree and its build did not fit a CI run on a shared 2-core box.
set -euo pipefail
cd "$(dirname "$0")/.."

# The build dominates (about 670 CPU-seconds, so 6 minutes or more on 2 idle cores); 15 s per target
# keeps the CI step near that, at roughly 1k (pricing), 10k (config), 35k (StatsD) and 110k (OTLP)
# executions per target.
seconds="${FUZZ_SECONDS:-15}"
sanitizer="${FUZZ_SANITIZER:-none}"
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
# -O -a: optimised, but with debug assertions and overflow checks, so arithmetic overflow on
# hostile input is found as a panic rather than wrapping silently.
build=(--fuzz-dir fuzz -O -a -s "$sanitizer")
echo "== building fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build "${build[@]}"
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  mkdir -p "$scratch/$t" "fuzz/corpus/$t"
  log="$scratch/$t.log"
  # Bounds, so a bug shows up as a reported failure instead of taking the machine down:
  #   -rss_limit_mb / -malloc_limit_mb: one input may not make the process hold or ask for more;
  #   -max_len: inputs stay below the request sizes meterd accepts by default;
  #   -timeout: one input running longer than this is a hang.
  if ! cargo fuzz run "${build[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
      -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED (input saved under fuzz/artifacts/$t/)"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)" "$log" \
    || tail -n 3 "$log"
done
echo "fuzz: all targets ran without a crash"
