#!/usr/bin/env bash
# Train, average, export, quantize, validate and ship eligo's NER model (corpora/models/ner/).
# Two fine-tuning runs of the same base model (the default mix for 3 epochs; ADE-Corpus-V2
# positives twice over for 4 epochs), their weights averaged (a uniform "model soup"), then
# exported. On a 2-core CPU: about 30 + 50 minutes of training, 5 of averaging and export;
# a GPU is used when present.
# Usage: benchmarks/train_ner.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
OUT=${2:-out}
PYTHON=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1
"$PYTHON" -m eligo.nlp.ner_train --out "$OUT/ner_run" --data "$DATA" --epochs 3 --seed 13 \
    --max-minutes 44 --threads 1
"$PYTHON" -m eligo.nlp.ner_train --out "$OUT/ner_ade2x" --data "$DATA" --epochs 4 --seed 13 \
    --threads 2 --mix ade=6346,ade_neg=3000,bc5cdr=2500,ncbi=1500,chia=2500,lct=1500
"$PYTHON" -m eligo.nlp.ner_train --out "$OUT/ner_soup" --data "$DATA" --seed 13 \
    --average "$OUT/ner_run" "$OUT/ner_ade2x"
"$PYTHON" -m eligo.nlp.ner_export --run "$OUT/ner_soup" --data "$DATA" --ship corpora/models/ner
