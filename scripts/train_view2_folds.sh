#!/usr/bin/env bash
# LFW View 2 with a trained head, done honestly: one model per fold K, trained on the people
# of the other nine folds of people.txt only (validation and threshold on the next fold's
# pairs, whose people are held out too), then each fold's pairs scored by its own model.
#
#   scripts/train_view2_folds.sh OUT_DIR [LFW_DIR]
#
# Writes OUT_DIR/fold-01 ... fold-10 and prints the 10-fold report.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/train_view2_folds.sh OUT_DIR [LFW_DIR]}
lfw=${2:-../shared/data/lfw}
cargo build --release --quiet
for k in 1 2 3 4 5 6 7 8 9 10; do
    dir=$(printf '%s/fold-%02d' "$out" "$k")
    [ -f "$dir/model.json" ] && continue
    target/release/siamese-face train --mine --data "$lfw" --view2-fold "$k" \
        --backbone dlib-resnet --epochs 10 --freeze-epochs 10 --batch 64 --lr 5e-4 \
        --warmup 50 --triplet-margin 0.2 --flip-average --val-pairs 300 --max-people 1000 \
        --checkpoint-every 0 --seed 1 --out "$dir" --json > "$dir.jsonl"
    tail -n 1 "$dir.jsonl"
done
target/release/siamese-face eval --data "$lfw" --pairs pairs --folds 10 --fold-models "$out"
