#!/usr/bin/env bash
# Wall and CPU time of `factory lint` on the template of tests/it/lint.rs::a_thousand_copy_strings
# (500 subtitles × zh-CN/en, regions CN and US, 1,000 distinct 1080×1920 TikTok outputs), with
# `factory validate` of the same template in the same run as the baseline (parse, validate,
# load the system fonts, plan), and the demo. Issue #12: "lint of 1,000 copy strings well under
# a second". Runs alternate, so both commands see the same machine load.
#
#   scripts/bench-lint.sh            # 5 rounds
#   ROUNDS=10 scripts/bench-lint.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=${FACTORY:-$ROOT/target/release/factory}
ROUNDS=${ROUNDS:-5}
OUT=$(mktemp -d /tmp/bench-lint.XXXXXX)
[ -x "$BIN" ] || cargo build --release --bin factory
cp "$BIN" "$OUT/factory"
python3 - "$OUT/big.toml" <<'PY'
import sys
t = ('[template]\nname = "big"\nduration = 6\n\n[output]\npresets = ["tiktok"]\n'
     'regions = ["CN", "US"]\n\n[[background]]\nid = "white"\ncolor = "#ffffff"\n')
for i in range(500):
    zh, en = (("最新口味，第一步先闻香", "Guaranteed fresh roast") if i % 10 == 0
              else ("最近上新，每日现磨", "A secure lid on a fresh roast"))
    t += f'\n[[subtitle]]\nid = "s{i}"\ntext = {{ zh-CN = "{zh} {i}", en = "{en} {i}" }}\n'
open(sys.argv[1], "w").write(t)
PY
printf 'round\tcommand\twall_s\tcpu_s\tmax_rss_kb\n'
for r in $(seq "$ROUNDS"); do
  for c in "validate $OUT/big.toml" "lint $OUT/big.toml --json" "lint templates/demo.toml --json"; do
    # Exit 2 is lint's "errors found" (the template's claims): expected.
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$OUT/factory" $c >/dev/null 2>&1 || true
    read -r wall user sys rss < <(tail -1 "$OUT/time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "${c/$OUT\//}" "$wall" \
      "$(python3 -c "print(round($user + $sys, 2))")" "$rss"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
