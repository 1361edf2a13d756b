#!/usr/bin/env bash
# Runs the duplicate-gate evaluation on real photos (scikit-image's sample data) plus
# synthetic ad composites. Needs ffmpeg and python3; installs scikit-image with pip.
# Usage: benches/dedup_eval.sh [keep-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import skimage' 2>/dev/null || python3 -m pip install --quiet scikit-image \
  || python3 -m pip install --quiet --break-system-packages scikit-image
photos=$(mktemp -d)
trap 'rm -rf "$photos"' EXIT
python3 - "$photos" <<'PY'
import os, shutil, sys
import skimage.data as d
src = os.path.dirname(d.__file__)
# Colour and grey photographs (not the synthetic/binary samples).
for name in ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
             "hubble_deep_field.jpg", "retina.jpg", "camera.png", "moon.png", "coins.png",
             "brick.png", "gravel.png", "grass.png", "ihc.png"]:
    p = os.path.join(src, name)
    if os.path.exists(p):
        shutil.copy(p, sys.argv[1])
PY
if [ $# -ge 1 ]; then export DEDUP_EVAL_DIR="$1"; fi
DEDUP_EVAL_PHOTOS="$photos" cargo bench --bench dedup_eval
