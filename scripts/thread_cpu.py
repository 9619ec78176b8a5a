#!/usr/bin/env python3
"""CPU share of each thread of a running process over a time window (Linux /proc).

    scripts/thread_cpu.py PID SECONDS

Prints each busy thread's share of one core, then the UI's total: the main thread (egui and
the app's frame code) plus Mesa's software-rendering threads (llvmpipe/lavapipe), against
everything else (the background job and its compute threads).
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def sample(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (name, int(fields[11]) + int(fields[12]))
    return out


def is_ui(pid, tid, name):
    return tid == pid or name.startswith(("llvmpipe", "lavapipe", "lp:", "gallium"))


def main():
    pid, secs = int(sys.argv[1]), float(sys.argv[2])
    before, t0 = sample(pid), time.monotonic()
    time.sleep(secs)
    after, wall = sample(pid), time.monotonic() - t0
    rows, ui, rest = [], 0.0, 0.0
    for tid, (name, ticks) in after.items():
        share = (ticks - before.get(tid, (name, 0))[1]) / TICK / wall
        if is_ui(pid, tid, name):
            ui += share
        else:
            rest += share
        if share >= 0.005:
            rows.append((share, tid, name))
    for share, tid, name in sorted(rows, reverse=True):
        print(f"  {name:<20} tid {tid:<8} {100 * share:6.1f} % of a core")
    print(f"UI (main thread + rendering): {100 * ui:.1f} % of a core; "
          f"everything else: {100 * rest:.1f} % (over {wall:.0f} s)")


if __name__ == "__main__":
    main()
