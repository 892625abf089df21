#!/usr/bin/env bash
# Builds the one-folder app for this operating system into packaging/dist/mlops-desktop,
# checks that it starts (offscreen: no screen needed) and reports its size.
#
#   packaging/build.sh            build, check, report
#   packaging/build.sh --check    only check and report an existing build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
DIST=packaging/dist
APP="$DIST/mlops-desktop"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" != "--check" ]; then
  [ -x "$VENV/bin/python" ] || die "no $VENV yet: run ./quickstart.sh test (or app) once first"
  say "Installing PyInstaller into $VENV"
  "$VENV/bin/python" -m pip install --quiet -e ".[package]"
  say "Building $APP (a few minutes)"
  "$VENV/bin/python" -m PyInstaller packaging/mlops-desktop.spec --noconfirm --clean \
    --distpath "$DIST" --workpath packaging/build --log-level WARN
fi

[ -x "$APP/mlops-desktop" ] || die "there is no build at $APP: run packaging/build.sh"
if [ "$(uname -s)" = Linux ]; then
  # The menu entry, the .mlops file type and the icon, for packaging/README.md's install.
  cp packaging/linux/mlops-desktop.desktop packaging/linux/mlops-desktop-project.xml "$APP/"
  cp mlops_desktop/resources/icons/mlops-desktop.svg "$APP/"
fi

say "Checking that the built app starts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export MLOPS_DESKTOP_HOME="$scratch/home" QT_QPA_PLATFORM=offscreen
"$APP/mlops-desktop" init "$scratch/check.mlops" --json >/dev/null
"$APP/mlops-desktop" data import "$scratch/check.mlops" sklearn:iris --json >/dev/null
painted=$("$APP/mlops-desktop" "$scratch/check.mlops" --exit-after-first-paint)
case "$painted" in
  first-paint*) say "The window painted: $painted s after launch" ;;
  *) die "the built app did not paint its window: $painted" ;;
esac
say "Checking that it trains in a worker process and serves the model"
printf '{"name": "check", "dataset": "iris", "target": "target", "estimator": "LogisticRegression"}' \
  >"$scratch/spec.json"
"$APP/mlops-desktop" experiment create "$scratch/check.mlops" "$scratch/spec.json" >/dev/null
"$APP/mlops-desktop" train "$scratch/check.mlops" check --wait >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$APP/mlops-desktop" serve "$scratch/check.mlops" check:1 --port "$port" >"$scratch/serve.out" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q '"url"' "$scratch/serve.out" 2>/dev/null && break
  sleep 0.2
done
url=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$scratch/serve.out" | head -1)
[ -n "$url" ] || { kill "$server" 2>/dev/null; die "the built app's model server did not start: $(cat "$scratch/serve.out")"; }
answer=$(python3 -c 'import sys, urllib.request
body = b"{\"dataframe_split\": {\"columns\": [\"sepal length (cm)\", \"sepal width (cm)\", \"petal length (cm)\", \"petal width (cm)\"], \"data\": [[5.1, 3.5, 1.4, 0.2]]}}"
request = urllib.request.Request(sys.argv[1] + "/invocations", body, {"Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=30).read().decode())' "$url")
kill "$server"
wait "$server" 2>/dev/null || true
case "$answer" in
  *predictions*) say "The served model answered: $answer" ;;
  *) die "the built app's model server gave no predictions: $answer" ;;
esac
"$APP/mlops-desktop" project check "$scratch/check.mlops" >/dev/null

say "Size"
du -sh "$APP"
echo "Largest parts:"
du -s "$APP"/_internal/* 2>/dev/null | sort -rn | head -12 |
  awk '{ printf "  %7.1f MiB  %s\n", $1 / 1024, $2 }'
