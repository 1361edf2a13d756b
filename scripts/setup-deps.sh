#!/usr/bin/env bash
# Install the system packages Creative Factory needs to build, test and run.
#
# Idempotent: checks each Debian package with `dpkg -s` and only runs
# `apt-get update` + `apt-get install` when something is missing, so it takes
# well under a second on a machine that already has everything.
# Target: Debian 12 (bookworm). Must run as root to install; as another user it
# prints the exact command to run and exits 1 if anything is missing.
set -euo pipefail

PKGS=(
  # FFmpeg development libraries for the ffmpeg-next / ffmpeg-sys-next crates
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libswresample-dev libavfilter-dev libavdevice-dev
  # bindgen (ffmpeg-sys-next) needs libclang; pkg-config locates the libs
  clang libclang-dev pkg-config
  # libjpeg-turbo's TurboJPEG API: the JPEG encoder of main images (turbojpeg crate)
  libturbojpeg0-dev
  # ffmpeg/ffprobe CLIs: sample generation and test verification
  ffmpeg
  # fonts used by templates and text tests (Latin, Arabic, CJK)
  fonts-noto-core fonts-noto-cjk fonts-dejavu-core
  # hb-shape / hb-view: reference shaping for text tests
  libharfbuzz-bin
  # exiftool: inspecting metadata stamped into outputs
  libimage-exiftool-perl
  # sqlite3 CLI: inspecting the dedup library index
  sqlite3
  # headless browser: the review page (report.html) is tested as a person opens it
  chromium
  # python3 -m venv: benches/peers.py installs MoviePy into a virtualenv, lint-deploy its
  # validators (Debian's python3 has no venv/ensurepip without it)
  python3-venv
)

missing=()
for p in "${PKGS[@]}"; do
  # dpkg -s also succeeds for removed-but-configured packages: check the Status
  # line. (Capture, don't pipe into grep -q: under pipefail an early grep exit
  # SIGPIPEs dpkg and reads as "missing".)
  status=$(dpkg -s "$p" 2>/dev/null) || status=""
  if [[ $status != *$'\nStatus: install ok installed\n'* ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup-deps: missing Debian packages: ${missing[*]}" >&2
    echo "setup-deps: run as root:" >&2
    echo "  $cmd" >&2
    exit 1
  fi
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
  # rustup installs into ~/.cargo/bin; a non-login shell may not have it on PATH.
  echo "setup-deps: cargo is in ${CARGO_HOME:-$HOME/.cargo}/bin but not on PATH; add it:" >&2
  echo "  export PATH=\"${CARGO_HOME:-\$HOME/.cargo}/bin:\$PATH\"" >&2
  exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-deps: cargo not found. Install the Rust stable toolchain with rustup:" >&2
  echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt" >&2
  echo "  . \"\$HOME/.cargo/env\"" >&2
  exit 1
fi

# clippy and rustfmt are only needed by `make lint`: warn, don't fail.
for c in clippy fmt; do
  if ! cargo "$c" --version >/dev/null 2>&1; then
    echo "setup-deps: warning: 'cargo $c' missing (make lint needs it): rustup component add ${c/fmt/rustfmt}" >&2
  fi
done

echo "setup-deps: OK ($(cargo --version); libavcodec $(pkg-config --modversion libavcodec))"
