#!/usr/bin/env bash
# The batch benchmark: factory vs one plain ffmpeg command per output (benches/README.md).
# Arguments go to benches/batch.py, e.g. `scripts/bench-batch.sh --quick`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec python3 benches/batch.py "$@"
