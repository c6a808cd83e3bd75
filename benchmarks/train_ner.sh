#!/usr/bin/env bash
# Train, export, quantize, validate and ship eligo's NER model (corpora/models/ner/).
# Runs on a 2-core CPU in about 50 minutes (44 of training); uses a GPU when present.
# Usage: benchmarks/train_ner.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
OUT=${2:-out/ner_run}
PYTHON=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1
"$PYTHON" -m eligo.nlp.ner_train --out "$OUT" --data "$DATA" --epochs 3 --seed 13 \
    --max-minutes 44 --threads 1
"$PYTHON" -m eligo.nlp.ner_export --run "$OUT" --data "$DATA" --ship corpora/models/ner
