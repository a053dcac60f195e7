#!/usr/bin/env bash
# Answer quality on CLINC150 (Larson et al., 2019): builds a knowledge base
# with one article per intent whose question variants are the training rows,
# then runs `supportbot eval` on the validation split at the default config.
#
# usage: tests/bench/quality/clinc150.sh [DATA_DIR] [--json]
#   DATA_DIR defaults to ../shared/data/clinc150 (train.csv, val.csv)
# Needs a built build/supportbot (make build). Figures: docs/quality.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
data=${1:-$root/../shared/data/clinc150}
shift || true
bin=${SUPPORTBOT:-$root/build/supportbot}
work=${WORK:-$root/build/clinc150}

[ -x "$bin" ] || { echo "clinc150.sh: $bin not found; run make build" >&2; exit 1; }
[ -f "$data/train.csv" ] && [ -f "$data/val.csv" ] || { echo "clinc150.sh: no train.csv/val.csv in $data" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/kb" "$work/intents"
python3 - "$data/train.csv" "$work/kb" <<'PY'
import csv, os, sys
train, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(train, newline="")))
intents = sorted({r["intent"] for r in rows})
for intent in intents:
    title = intent.replace("_", " ")
    with open(os.path.join(out, intent + ".md"), "w") as f:
        f.write(f"---\nid: {intent}\ntitle: {title}\n---\nThe answer about {title}.\n")
with open(os.path.join(out, "variants.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["article", "question"])
    for r in rows:
        w.writerow([r["intent"], r["text"]])
print(f"clinc150.sh: {len(intents)} articles, {len(rows)} question variants", file=sys.stderr)
PY
exec "$bin" eval "$data/val.csv" --kb "$work/kb" --intents "$work/intents" "$@"
