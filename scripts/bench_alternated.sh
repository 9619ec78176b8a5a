#!/usr/bin/env bash
# Runs benchmark commands in turn, ROUNDS times, so that each sees the same machine state
# (these 2-core machines are noisy: compare only figures from the same run). Each command's
# last output line (a JSON object from `--json`) is printed after its label.
#   scripts/bench_alternated.sh ROUNDS LABEL "COMMAND" [LABEL "COMMAND"]...
# Example (the allocator's before and after, README "Allocator"): build the commit before
# the change into another folder, then
#   scripts/bench_alternated.sh 3 \
#     glibc "/tmp/old/siamese-face bench train --backbone small-cnn --steps 15 --json" \
#     mimalloc "target/release/siamese-face bench train --backbone small-cnn --steps 15 --json" \
#     torch "/work/pyref/bin/python scripts/bench_train_torch.py --arch small-cnn --steps 15 --json"
set -euo pipefail
rounds=$1
shift
for ((r = 1; r <= rounds; r++)); do
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        label=${args[i]}
        out=$(bash -c "${args[i + 1]}" 2>/dev/null | tail -n 1)
        echo "round $r $label $out"
    done
done
