#!/usr/bin/env bash
# Sets up everything mlops_desktop needs (system libraries, a virtual environment, the
# package), then starts the app or runs the whole test suite. Safe to run again: each step
# is skipped when it is already done.
#
#   ./quickstart.sh app [PROJECT]     set up and open the window on the demo project (or PROJECT)
#   ./quickstart.sh test [PYTEST ARGS] set up and run lint, layer checks and every test
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
# Libraries Qt loads even without a screen (tests run offscreen), and a font to draw text.
BASE_PACKAGES="fonts-dejavu-core libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6
  libxkbcommon0 libdbus-1-3"
# What Qt's xcb plugin needs to open a real window on an X11 or XWayland desktop.
DISPLAY_PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxcb-xfixes0 libxcb-sync1 libxcb-shm0
  libxkbcommon-x11-0 libx11-xcb1"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  die "mlops_desktop needs Python 3.11 or newer: install it (sudo apt install python3) or set PYTHON=/path/to/python3.11"
}

install_system_packages() {
  local wanted="$1" missing=""
  command -v dpkg-query >/dev/null 2>&1 || {
    say "Not a Debian-style system: make sure Qt's libraries and a font are installed ($wanted)"
    return
  }
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing="$missing $pkg"
  done
  [ -n "$missing" ] || return 0
  say "Installing system packages:$missing"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "these system packages are missing and there is no sudo: install them as root:$missing"
    sudo=sudo
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

setup() {
  local packages="$1"
  PY=$(find_python)
  local version
  version=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    packages="$packages python${version}-venv"
  fi
  install_system_packages "$packages"
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating a virtual environment in $VENV with $PY ($version)"
    "$PY" -m venv "$VENV"
  fi
  local stamp
  stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "Installing mlops_desktop and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  app)
    setup "$BASE_PACKAGES $DISPLAY_PACKAGES"
    project="${1:-}"
    if [ -z "$project" ]; then
      say "Building the demo project (once; it takes a few seconds)"
      project=$("$VENV/bin/mlops-desktop" demo)
    fi
    say "Starting mlops_desktop on $project"
    exec "$VENV/bin/mlops-desktop" "$project"
    ;;
  test)
    setup "$BASE_PACKAGES"
    say "Lint (ruff) and layer contracts (import-linter)"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/lint-imports"
    say "Tests"
    # One test process per core (at most four): the suite keeps within ten minutes on two.
    QT_QPA_PLATFORM=offscreen exec "$VENV/bin/python" -m pytest -n auto --maxprocesses 4 "$@"
    ;;
  *)
    die "usage: ./quickstart.sh app [PROJECT] | ./quickstart.sh test [PYTEST ARGS]"
    ;;
esac
