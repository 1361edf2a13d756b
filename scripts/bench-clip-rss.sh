#!/usr/bin/env bash
# Peak memory and wall time of `factory render` over long background clips (issue #11), and
# the demo batch's speed, for the release binary — and, with FACTORY_BEFORE=path, for another
# binary (e.g. main's) in the same run, alternating, so both see the same machine load.
#
#   scripts/bench-clip-rss.sh                 # clips 5, 20, 60 s; --jobs 1 and 2; demo batch
#   CLIPS="5 60" JOBS="2" DEMO=0 scripts/bench-clip-rss.sh
#   FACTORY_BEFORE=/tmp/factory-main scripts/bench-clip-rss.sh
#
# Clips: 1080×1920 30 fps `testsrc2` (libx264 veryfast, keyframe every 2 s). Batch: 6 s
# TikTok videos (1080×1920), one looped clip background × 2 captions × 2 looks = 4 variants,
# US only. Figures: GNU time's "Maximum resident set size" and "Elapsed (wall clock)", plus
# user+system CPU. Results go to stdout as TSV (and to $OUT/results.tsv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
AFTER=${FACTORY:-$ROOT/target/release/factory}
BEFORE=${FACTORY_BEFORE:-}
CLIPS=${CLIPS:-"5 20 60"}
JOBS=${JOBS:-"1 2"}
DEMO=${DEMO:-1}
OUT=${OUT:-$(mktemp -d /tmp/bench-clip-rss.XXXXXX)}
mkdir -p "$OUT"
[ -x "$AFTER" ] || cargo build --release --bin factory
# Copies: a concurrent rebuild cannot swap a binary mid-run.
cp "$AFTER" "$OUT/factory-after"
BINS="after"
if [ -n "$BEFORE" ]; then cp "$BEFORE" "$OUT/factory-before"; BINS="before after"; fi

for s in $CLIPS; do
  [ -f "$OUT/clip-$s.mp4" ] || ffmpeg -hide_banner -loglevel error -y -f lavfi \
    -i "testsrc2=size=1080x1920:rate=30" -t "$s" -pix_fmt yuv420p -c:v libx264 \
    -preset veryfast -crf 23 -g 60 "$OUT/clip-$s.mp4"
  cat > "$OUT/clip-$s.toml" <<TOML
[template]
name = "clip-$s"
kind = "video"
duration = 6.0
fps = 30

[output]
presets = ["tiktok"]
regions = ["US"]

[[background]]
id = "clip"
video = "clip-$s.mp4"
loop = true

[[subtitle]]
id = "a"
text = { en = "Streamed, not held." }
size = 0.06
color = "#ffffff"
outline = { color = "#000000", width = 4 }

[[subtitle]]
id = "b"
text = { en = "Same memory, any length." }
size = 0.06
color = "#ffffff"
position = "top"

[[effects]]
id = "plain"

[[effects]]
id = "warm"
grade = { brightness = 0.02, contrast = 1.08, saturation = 1.15 }
fade_in = 0.3
TOML
done

# run NAME BIN ARGS… → one TSV line: name, binary, peak RSS (MiB), wall (s), CPU (s), exit
run() {
  local name=$1 bin=$2; shift 2
  local log="$OUT/$name-$bin.time"
  local rc=0
  /usr/bin/time -v "$OUT/factory-$bin" "$@" >"$OUT/$name-$bin.out" 2>"$log" || rc=$?
  local rss wall cpu
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.1f", s}' "$log")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u+s}' "$log")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bin" "$rss" "$wall" "$cpu" "$rc" | tee -a "$OUT/results.tsv"
}

printf 'run\tbinary\tpeak_rss_mib\twall_s\tcpu_s\texit\n' | tee "$OUT/results.tsv"
for s in $CLIPS; do
  for j in $JOBS; do
    for b in $BINS; do
      rm -rf "$OUT/out-$s-$j-$b"
      run "clip${s}s-jobs$j" "$b" render "$OUT/clip-$s.toml" --out "$OUT/out-$s-$j-$b" \
        --progress plain --jobs "$j"
    done
  done
done
if [ "$DEMO" = 1 ]; then
  for b in $BINS; do
    rm -rf "$OUT/demo-$b"
    run demo "$b" render templates/demo.toml --out "$OUT/demo-$b" --progress plain
  done
fi
echo "results: $OUT/results.tsv" >&2
