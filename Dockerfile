# syntax=docker/dockerfile:1
#
# Creative Factory engine image: the `factory` binary on Debian 12 (bookworm).
#
#   docker build -t creative-factory:dev .
#   docker run --rm creative-factory:dev validate /opt/creative-factory/templates/regional.toml
#   docker run --rm -v "$PWD/work:/work" creative-factory:dev \
#       render /opt/creative-factory/templates/regional.toml --shard 0/4 --out /work/parts/shard-0
#
# Two stages: `build` compiles with the official Rust image (Debian 12 based) and the FFmpeg
# development packages from scripts/setup-deps.sh; `runtime` is debian:bookworm-slim with only
# the FFmpeg runtime libraries the binary links, fontconfig and the fonts the engine renders
# with. How it is used across machines: docs/SCALE.md.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Build-time packages, as in scripts/setup-deps.sh: FFmpeg development libraries for the
# ffmpeg-next / ffmpeg-sys-next crates, libclang for bindgen, pkg-config to locate the libs.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
      libswresample-dev libavfilter-dev libavdevice-dev \
      clang libclang-dev pkg-config libturbojpeg0-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# What the build reads: the manifest and lockfile, the sources, the built-in presets
# (compiled in with include_str!) and the bench sources the manifest names. Everything else
# is kept out by .dockerignore.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY presets ./presets
COPY benches ./benches

# --locked: exactly the crates pinned in Cargo.lock. The registry and target directories are
# BuildKit cache mounts (kept between builds, not in the image), so the binary is copied out
# in the same step. The release profile keeps line tables (debug = 1, for profiling);
# --strip-debug drops them from the image's copy (symbols stay, for backtraces): ~10x smaller.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin factory \
 && mkdir -p /out \
 && objcopy --strip-debug target/release/factory /out/factory

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Runtime libraries only. The binary's direct dependencies (readelf -d, checked on a build
# from this tree) are libavcodec.so.59, libavformat.so.59, libavutil.so.57, libswscale.so.6
# and libswresample.so.4 (plus libc/libm/libgcc_s, already in the base image). libavfilter is
# enabled in the crate features but not linked (the linker drops it: no symbol used); if it
# ever is, the ldd check below fails the build and libavfilter8 must be added here.
# SQLite is compiled into the binary (rusqlite "bundled"); the PostgreSQL client is pure Rust.
# Fonts: Latin/Arabic/Thai/Devanagari/Hebrew (Noto), CJK (Noto CJK), DejaVu fallback.
# ca-certificates: for TLS connections an engine build may make (e.g. to a managed database).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libturbojpeg0 \
      fontconfig fonts-noto-core fonts-noto-cjk fonts-dejavu-core \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && fc-cache -f

COPY --from=build /out/factory /usr/local/bin/factory
# Example templates and free sample media (samples/LICENSES.md): a smoke test needs no volume.
COPY templates /opt/creative-factory/templates
COPY samples /opt/creative-factory/samples

# Fail the build, not the first render, if a shared library is missing; `validate` also
# opens every media file and finds every font the regional template needs (7 scripts).
# (Captured, not `| grep -q`: under pipefail an early grep exit would SIGPIPE ldd.)
RUN missing="$(ldd /usr/local/bin/factory | grep 'not found' || true)"; \
    if [ -n "$missing" ]; then echo "missing shared libraries: $missing" >&2; exit 1; fi \
 && factory --version \
 && factory presets >/dev/null \
 && factory validate /opt/creative-factory/templates/regional.toml

# Non-root. Kubernetes runs it with runAsUser 10001 / fsGroup 10001 (deploy/kubernetes/),
# so files written to a shared volume belong to one uid on every machine.
RUN groupadd --system --gid 10001 factory \
 && useradd --system --uid 10001 --gid factory --home-dir /work --create-home \
      --shell /usr/sbin/nologin factory
USER 10001:10001
WORKDIR /work

# Exit codes: 0 all made, 1 some variants failed, 2 invalid template/arguments or the run
# could not start, 130/143 stopped by SIGINT/SIGTERM (the engine handles them itself: finished
# outputs stay published; a second signal ends it at once). No init process is needed: the
# engine starts no child processes.
ENTRYPOINT ["factory"]
CMD ["--help"]
