#!/usr/bin/env bash
# Runs the real app in a virtual X display and saves a screenshot of it.
#   scripts/screenshot.sh OUT.png [--clicks "X,Y X,Y ..."] [--wait SECONDS] [--after SECONDS]
#                         [-- APP ARGS...]
# --wait: before the clicks (app start-up); --after: after the clicks (a job running).
# Needs Debian's xvfb, xauth, imagemagick, xdotool and mesa-vulkan-drivers.
# Uses a throw-away XDG_DATA_HOME so the app's remembered state is not touched.
set -euo pipefail
out=$1; shift
clicks=""; wait_s=8; after_s=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clicks) clicks=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --after) after_s=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
bin="$(dirname "$0")/../target/release/siamese-face"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
xvfb=$!
scratch=$(mktemp -d)
chmod 700 "$scratch"
trap 'kill $app $xvfb 2>/dev/null || true; rm -rf "$scratch"' EXIT
sleep 1
DISPLAY=$display XDG_RUNTIME_DIR=$scratch XDG_DATA_HOME=$scratch "$bin" "$@" &
app=$!
sleep "$wait_s"
for xy in $clicks; do
  DISPLAY=$display xdotool mousemove "${xy%,*}" "${xy#*,}" click 1
  sleep 2
done
sleep "$after_s"
DISPLAY=$display import -window root "$out"
echo "saved $out"
