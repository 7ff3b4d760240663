#!/usr/bin/env bash
# Follows README.md's "60-second quick start" verbatim, in a scratch copy of the repository, and
# compares what it prints with the README's expected output. On a bare machine (only the Rust
# toolchain) it builds meterd as the README says:
#   scripts/quickstart-check.sh
# Tests run it against an already built binary, on free ports instead of the defaults (both are
# the only changes made to the README's commands):
#   METERD_BIN=target/debug/meterd METERD_QUICKSTART_PORTS="18125 14317 14318 19464" \
#     scripts/quickstart-check.sh        # ports: statsd otlp_grpc otlp_http http
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
section=$(awk '/^## 60-second quick start/ { on = 1; next } /^## / { on = 0 } on' "$repo/README.md")
commands=$(printf '%s\n' "$section" | awk '/^```sh$/ { on = 1; next } /^```$/ { if (on) exit } on')
expected=$(printf '%s\n' "$section" | awk '/^```text$/ { on = 1; next } /^```$/ { if (on) exit } on')
if [[ -z $commands || -z $expected ]]; then
  echo "README.md: no quick start commands (\`\`\`sh) or expected output (\`\`\`text) found" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$repo" --exclude=./target --exclude=./.git --exclude=./.venv --exclude=./fuzz/target \
  --exclude=./fuzz/corpus --exclude=./data --exclude=./quickstart.yaml \
  --exclude=./quickstart-data --exclude=./meterd.log -cf - . | tar -C "$work" -xf -

if [[ -n ${METERD_BIN:-} ]]; then
  bin=$(cd "$(dirname "$METERD_BIN")" && pwd)/$(basename "$METERD_BIN")
  [[ -x $bin ]] || { echo "METERD_BIN=$METERD_BIN is not an executable" >&2; exit 1; }
  commands=$(printf '%s\n' "$commands" | grep -v '^cargo build --release$')
  commands=${commands//.\/target\/release\/meterd/$bin}
else
  # Build where the repository builds, so a second run is incremental.
  target=${CARGO_TARGET_DIR:-$repo/target}
  mkdir -p "$target"
  ln -s "$target" "$work/target"
  unset CARGO_TARGET_DIR
fi
if [[ -n ${METERD_QUICKSTART_PORTS:-} ]]; then
  read -r statsd grpc http_otlp http <<<"$METERD_QUICKSTART_PORTS"
  commands=${commands//8125/$statsd}
  commands=${commands//4317/$grpc}
  commands=${commands//4318/$http_otlp}
  commands=${commands//9464/$http}
fi

# timeout signals its whole process group, meterd included, if the quick start hangs.
status=0
actual=$(cd "$work" && timeout 900 bash -c "$commands") || status=$?
# `kill %1` only asks meterd to stop: let it finish before its directory goes.
for _ in $(seq 50); do
  grep -q 'meterd stopped' "$work/meterd.log" 2>/dev/null && break
  sleep 0.1
done
if [[ $status -ne 0 || $actual != "$expected" ]]; then
  echo "quick start failed (exit $status); expected:" >&2
  printf '%s\n' "$expected" >&2
  echo "got:" >&2
  printf '%s\n' "$actual" >&2
  echo "meterd.log:" >&2
  cat "$work/meterd.log" >&2 2>/dev/null || true
  exit 1
fi
echo "quick start OK: $(printf '%s\n' "$actual" | wc -l) lines as README.md shows"
