#!/usr/bin/env bash
# Runs the real app in a virtual X display and saves a screenshot of it.
#   scripts/screenshot.sh OUT.png [--size WxH] [--clicks "X,Y X,Y ..."] [--keys "ctrl+5 ..."]
#                         [--wait SECONDS] [--after SECONDS] [-- APP ARGS...]
# --size: the screen and the app's window (default 1400x900); --wait: before the clicks (app
# start-up); --after: after the clicks (a job running). Keys are sent after the clicks.
# --measure SECONDS: before the screenshot, print each thread's CPU share over that time
# (scripts/thread_cpu.py), to see what the UI and its rendering cost beside a job.
# Needs Debian's xvfb, xauth, imagemagick, xdotool and mesa-vulkan-drivers.
# Uses a throw-away XDG_DATA_HOME so the app's remembered state is not touched.
set -euo pipefail
out=$1; shift
clicks=""; keys=""; measure=0; wait_s=8; after_s=0; size=1400x900
while [ $# -gt 0 ]; do
  case "$1" in
    --clicks) clicks=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --after) after_s=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --measure) measure=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
bin="$(dirname "$0")/../target/release/siamese-face"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 "${size}x24" -nolisten tcp &
xvfb=$!
scratch=$(mktemp -d)
chmod 700 "$scratch"
trap 'kill $app $xvfb 2>/dev/null || true; rm -rf "$scratch"' EXIT
sleep 1
DISPLAY=$display XDG_RUNTIME_DIR=$scratch XDG_DATA_HOME=$scratch "$bin" "$@" &
app=$!
sleep "$wait_s"
# No window manager: size the window to the screen by hand.
DISPLAY=$display xdotool search --name "Siamese Face" windowmove 0 0 windowsize "${size%x*}" "${size#*x}" windowfocus || true
sleep 1
for xy in $clicks; do
  DISPLAY=$display xdotool mousemove "${xy%,*}" "${xy#*,}" click 1
  sleep 2
done
for k in $keys; do
  DISPLAY=$display xdotool key "$k"
  sleep 2
done
sleep "$after_s"
if [ "$measure" != 0 ]; then
  python3 "$(dirname "$0")/thread_cpu.py" "$app" "$measure"
fi
DISPLAY=$display import -window root "$out"
echo "saved $out"
