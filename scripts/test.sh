#!/usr/bin/env bash
# Runs every test suite meterd has, installing what the suites need first (so a fresh machine works):
#   - Debian packages prometheus (prometheus, promtool) and prometheus-alertmanager (alertmanager,
#     amtool): the tests start the real binaries, and fail rather than skip when they are absent;
#   - Debian packages chromium and chromium-driver: the status page is tested in headless Chromium;
#   - a Python venv with the OpenTelemetry SDK (and Selenium), for the Python-client tests;
#   - Node.js packages (tests/js: the Vercel AI SDK and OpenTelemetry JS), for the JS emitter tests;
#   - cargo-fuzz (by scripts/fuzz.sh), for a short run of every fuzz target.
# Usage: scripts/test.sh            (everything)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# Headless Chromium and its WebDriver, for the status page test (tests/e2e/ui_browser.rs).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u)
fi
# The Debian package starts services on install where an init system runs; tests start their own.

if [ -f tests/python/requirements.txt ]; then
  log "python venv for the OpenTelemetry Python SDK and real-emitter tests"
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  # emitters.txt includes requirements.txt. pip is skipped while the pinned files are unchanged
  # since the last install into this venv (a stamp of their hash), so a warm run costs nothing.
  stamp=$(cat tests/python/requirements.txt tests/python/emitters.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat .venv/.meterd-pins 2>/dev/null)" != "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r tests/python/emitters.txt
    echo "$stamp" > .venv/.meterd-pins
  fi
  export METERD_TEST_PYTHON="$PWD/.venv/bin/python"
fi

if [ -f tests/js/package-lock.json ]; then
  log "node packages for the JavaScript emitter tests (tests/js: the Vercel AI SDK, OpenTelemetry JS)"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  # Same stamp idea as the venv: npm ci only when the lock file changed since the last install.
  stamp=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
  if [ "$(cat tests/js/node_modules/.meterd-lock 2>/dev/null)" != "$stamp" ]; then
    npm ci --prefix tests/js --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$stamp" > tests/js/node_modules/.meterd-lock
  fi
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

log "cargo test (unit, integration, real Prometheus/Alertmanager)"
cargo test --all-targets --quiet 2>&1 | tee /tmp/meterd-test.log
# --all-targets skips doctests; run them too.
cargo test --doc --quiet

log "fuzz (every target, FUZZ_SECONDS each; scripts/fuzz.sh installs cargo-fuzz if missing)"
scripts/fuzz.sh

if compgen -G "alerts/*.rules.yml" >/dev/null; then
  log "promtool check rules / test rules"
  promtool check rules alerts/*.rules.yml
  if compgen -G "alerts/tests/*.yml" >/dev/null; then
    promtool test rules alerts/tests/*.yml
  fi
fi
if [ -f alerts/alertmanager.yml ]; then
  log "amtool check-config"
  amtool check-config alerts/alertmanager.yml
fi

log "all suites passed"
