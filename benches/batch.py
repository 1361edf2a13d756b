#!/usr/bin/env python3
"""Batch benchmark: `factory render` against one plain `ffmpeg -filter_complex` per output.

    python3 benches/batch.py            # full demo batch (36 outputs) + memory scaling 6 vs 24
    python3 benches/batch.py --quick    # US only, no memory scaling: a sanity run

What it does (see benches/README.md for the caveats of the ffmpeg side):

1. snapshots target/release/factory (building it if missing) so a concurrent rebuild cannot
   change the binary mid-run;
2. `factory plan TEMPLATE --json` gives the jobs; the template TOML and presets/*.toml give
   each module's definition;
3. times `factory render` (wall time, peak RSS of the process via wait4);
4. builds one ffmpeg command per job reproducing the composition (same canvas, same product
   pixel size and position, same x264 preset/CRF/profile/GOP, AAC 128k 48 kHz stereo) and times
   them one after another, then two at a time;
5. prints the table and the ratios;
6. memory scaling: benches/batch.toml rendered with 6 and with 24 variants, peak RSS of each.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTL_LANGS = {"ar", "he", "fa", "ur"}


# ---------------------------------------------------------------------------------------------
# running things


@dataclass
class Run:
    wall: float
    peak_kb: int  # peak RSS of the process (KiB); for a pool, the largest single process
    rc: int
    err: str = ""
    per_kind: dict | None = None  # factory only: summed per-output seconds by kind
    cpu: float = 0.0  # user + system CPU seconds (for a pool: summed over its processes)


def run_measured(cmd: list[str], cwd: Path | None = None, log: Path | None = None) -> Run:
    """Runs `cmd`, returns wall time and the peak RSS of that very process (wait4)."""
    t0 = time.perf_counter()
    out = open(log, "wb") if log else subprocess.DEVNULL
    # With a log (the factory), progress lines — which it writes to stderr — go there too.
    p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE)
    # Read stderr in a thread-free way: ffmpeg/factory write little with -loglevel error /
    # --progress plain, but drain it so a pipe never blocks.
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
        err = log.read_text(errors="replace")
    return Run(wall, ru.ru_maxrss, p.returncode, err[-2000:], cpu=ru.ru_utime + ru.ru_stime)


def factory_binary(no_build: bool, snapdir: Path) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "factory"
    if not target.exists():
        if no_build:
            sys.exit(f"{target} missing and --no-build given")
        print("building target/release/factory …", flush=True)
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    snap = snapdir / "factory"
    shutil.copy2(target, snap)
    return snap


# ---------------------------------------------------------------------------------------------
# template / preset model (only what the composition needs)


def colour(s: str) -> tuple[int, int, int, int]:
    s = s.lstrip("#")
    if len(s) == 6:
        s += "ff"
    return tuple(int(s[i : i + 2], 16) for i in (0, 2, 4, 6))  # type: ignore[return-value]


def ff_colour(s: str) -> str:
    r, g, b, a = colour(s)
    return f"0x{r:02x}{g:02x}{b:02x}@{a / 255:.3f}"


def load_preset(name: str) -> dict:
    raw = tomllib.loads((ROOT / "presets" / f"{name}.toml").read_text())
    if "inherits" in raw:  # one level is all the built-ins need
        base = load_preset(raw["inherits"])
        for k, v in raw.items():
            if isinstance(v, dict):
                base.setdefault(k, {}).update(v)
            else:
                base[k] = v
        raw = base
    return raw


def safe_area(p: dict, rtl: bool) -> tuple[int, int, int, int]:
    """src/render/mod.rs `safe_area`: (x, y, w, h)."""
    z = dict(p.get("safe_zone", {}))
    z = {k: z.get(k, 0) for k in ("top", "bottom", "left", "right")}
    if rtl:
        z = p.get("safe_zone_rtl") or {**z, "left": z["right"], "right": z["left"]}
    W, H = p["width"], p["height"]
    w = max(W - (z["left"] + z["right"]), W // 4)
    h = max(H - (z["top"] + z["bottom"]), H // 4)
    return min(z["left"], W - w), min(z["top"], H - h), w, h


_bbox_cache: dict[Path, tuple[int, int, int, int, int, int]] = {}


def alpha_bbox(png: Path) -> tuple[int, int, int, int, int, int]:
    """(x, y, w, h, full_w, full_h) of alpha > 8, via ffmpeg's bbox filter (stdlib has no PNG
    decoder); the same threshold as ops::alpha_bounds."""
    if png in _bbox_cache:
        return _bbox_cache[png]
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(png), "-vf", "alphaextract,bbox=min_val=9", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    m = re.search(r"x1:(\d+) x2:(\d+) y1:(\d+) y2:(\d+) w:(\d+) h:(\d+)", out)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(png)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    fw, fh = (int(v) for v in probe.split(",")[:2])
    if m:
        x1, _, y1, _, w, h = (int(v) for v in m.groups())
        r = (x1, y1, w, h, fw, fh)
    else:
        r = (0, 0, fw, fh, fw, fh)
    _bbox_cache[png] = r
    return r


def probe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        return float(out)
    except ValueError:
        return 0.0


def font_file(family: str) -> str:
    r = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True)
    return r.stdout.strip()


def wrap(text: str, font_px: float, max_w: float) -> str:
    """Greedy word wrap with an average advance of 0.52 em (Noto Sans); drawtext cannot wrap."""
    per_line = max(1, int(max_w / (0.52 * font_px)))
    lines: list[str] = []
    cur = ""
    for word in text.split():
        cand = f"{cur} {word}".strip()
        if len(cand) <= per_line or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# one ffmpeg command per job


def ffmpeg_command(t: dict, tdir: Path, job: dict, preset: dict, out: Path, textdir: Path) -> list[str]:
    W, H = preset["width"], preset["height"]
    is_video = preset["kind"] == "video"
    tmpl = t["template"]
    fps = tmpl.get("fps", 30)
    D = float(tmpl.get("duration", 8.0))
    poster = float(tmpl.get("poster_time", 0.0))
    rules = preset.get("rules", {})
    white = rules.get("white_background", False)
    fill = rules.get("min_product_fill")
    no_text = rules.get("no_text", False)
    rtl = job["locale"].split("-")[0] in RTL_LANGS
    ch = job["choices"]

    def opt(pool: str, key: str):
        i = ch.get(key)
        return None if i is None else t[pool][i]

    bg = t["background"][ch["background"]]
    prod = opt("product", "product")
    sub = opt("subtitle", "subtitle")
    fx = opt("effects", "effects")
    aud = opt("audio", "audio")
    grade = None if (white or fx is None) else fx.get("grade")

    inputs: list[str] = []
    fc: list[str] = []
    n_in = 0

    def add_input(*args: str) -> int:
        nonlocal n_in
        inputs.extend(args)
        n_in += 1
        return n_in - 1

    def cover(label_in: str, sw: int, sh: int) -> str:
        # ops::fit Cover: centre-crop the source to the canvas aspect, then scale.
        target = W / H
        cw, chh = (sh * target, sh) if sw / sh > target else (sw, sw / target)
        cw, chh = int(round(cw)), int(round(chh))
        return f"{label_in}crop={cw}:{chh}:{(sw - cw) // 2}:{(sh - chh) // 2},scale={W}:{H}:flags=bilinear,setsar=1"

    # eq: factory is contrast*(v + b - 0.5) + 0.5 → eq brightness = b * contrast.
    eq = ""
    if grade:
        c = float(grade.get("contrast", 1.0))
        eq = f",eq=brightness={float(grade.get('brightness', 0.0)) * c:.4f}:contrast={c:.4f}:saturation={float(grade.get('saturation', 1.0)):.4f}"

    # ---- background
    if white:
        fc.append(f"color=c=white:s={W}x{H}:r={fps}" + (f":d={D}" if is_video else ":d=1") + ",format=yuv420p[bg]")
    elif "image" in bg:
        p = (tdir / bg["image"]).resolve()
        sw, sh = _dims(p)
        if is_video:
            i = add_input("-loop", "1", "-framerate", str(fps), "-t", f"{D}", "-i", str(p))
        else:
            i = add_input("-i", str(p))
        fc.append(cover(f"[{i}:v]", sw, sh) + f",format=yuv420p{eq}[bg]")
    elif "video" in bg:
        p = (tdir / bg["video"]).resolve()
        sw, sh = _dims(p)
        start = float(bg.get("start", 0.0))
        loop = bg.get("loop", True)
        args = ["-stream_loop", "-1"] if loop else []
        if is_video:
            if start:
                args += ["-ss", f"{start}"]
        else:
            clip_len = max(probe_duration(p) - start, 1e-3)
            ss = start + (poster % clip_len if loop else min(poster, clip_len))
            args += ["-ss", f"{ss}"]
        i = add_input(*args, "-i", str(p))
        # Factory grades the small source frame before scaling; do the same here.
        fc.append(f"[{i}:v]fps={fps},format=yuv420p{eq}," + cover("", sw, sh) + "[bg]")
    elif "gradient" in bg:
        g = bg["gradient"]
        a = math.radians(float(g.get("angle", 0.0)))
        s_, c_ = math.sin(a), math.cos(a)
        corners = [(0, 0), (W, 0), (0, H), (W, H)]
        proj = [x * s_ + y * c_ for x, y in corners]
        lo_i = min(range(4), key=lambda k: proj[k])
        span = max(proj) - min(proj)
        x0, y0 = corners[lo_i]
        x1, y1 = x0 + s_ * span, y0 + c_ * span
        cl = lambda v: max(-1, int(round(v)))  # noqa: E731 — gradients takes ints ≥ -1
        d = f":d={D}" if is_video else ":d=1"
        fc.append(
            f"gradients=s={W}x{H}:r={fps}:c0={ff_colour(g['from'])}:c1={ff_colour(g['to'])}:"
            f"x0={cl(x0)}:y0={cl(y0)}:x1={cl(x1)}:y1={cl(y1)}:nb_colors=2:speed=0.00001{d},format=yuv420p{eq}[bg]"
        )
    elif "color" in bg:
        r, gg, b, _ = colour(bg["color"])
        fc.append(f"color=c=0x{r:02x}{gg:02x}{b:02x}:s={W}x{H}:r={fps}" + (f":d={D}" if is_video else ":d=1") + f",format=yuv420p{eq}[bg]")
    else:
        raise SystemExit(f"background {bg.get('id')}: unsupported source")
    cur = "[bg]"

    # ---- product (one PNG frame; overlay repeats it, so it is scaled/graded/shadowed once)
    if prod is not None:
        p = (tdir / prod["source"]).resolve()
        bx, by, bw, bh, _, _ = alpha_bbox(p)
        scale = float(prod.get("scale", 0.5))
        anchor = prod.get("anchor", "center")
        off = list(prod.get("offset", [0.0, 0.0]))
        shadow = prod.get("shadow")
        ax, ay, aw, ah = safe_area(preset, rtl)
        if fill is not None:
            scale = max(scale, min(fill + 0.03, 0.98))
            anchor, off, shadow = "center", [0.0, 0.0], None
            ax, ay, aw, ah = 0, 0, W, H
        if rtl:
            anchor = {"left": "right", "right": "left", "top-left": "top-right", "top-right": "top-left",
                      "bottom-left": "bottom-right", "bottom-right": "bottom-left"}.get(anchor, anchor)
            off[0] = -off[0]
        s = min(scale * aw / bw, scale * ah / bh)
        tw, th = max(1, round(bw * s)), max(1, round(bh * s))
        fxr, fyr = {"center": (0.5, 0.5), "top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5),
                    "right": (1.0, 0.5), "top-left": (0.0, 0.0), "top-right": (1.0, 0.0),
                    "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}[anchor.replace("_", "-")]
        px = round(ax + (aw - tw) * fxr + off[0] * W)
        py = round(ay + (ah - th) * fyr + off[1] * H)
        i = add_input("-i", str(p))
        peq = eq.replace(",eq=", ",format=yuva444p,eq=") if eq else ""
        fc.append(f"[{i}:v]crop={bw}:{bh}:{bx}:{by},scale={tw}:{th}:flags=bilinear,format=rgba{peq}[p0]")
        if shadow:
            short = min(W, H)
            so = shadow.get("offset", [0.0, 0.0])
            dx, dy = round(so[0] * short), round(so[1] * short)
            r = max(0, round(float(shadow.get("blur", 0.0)) * short))
            m = 3 * r
            sr, sg, sb, sa = colour(shadow.get("color", "#00000080"))
            blur = f",boxblur=luma_radius={r}:luma_power=3" if r else ""
            fc.append("[p0]split[p1][p2]")
            fc.append(
                f"[p2]pad=iw+{2 * m}:ih+{2 * m}:{m}:{m}:color=black@0,"
                f"colorchannelmixer=rr=0:rg=0:rb=0:gr=0:gg=0:gb=0:br=0:bg=0:bb=0:aa={sa / 255:.3f},"
                f"format=yuva444p{blur}[sh]"
            )
            fc.append(f"{cur}[sh]overlay={px + dx - m}:{py + dy - m}:format=auto[bs]")
            cur = "[bs]"
            plabel = "[p1]"
        else:
            plabel = "[p0]"
        fc.append(f"{cur}{plabel}overlay={px}:{py}:format=auto[bp]")
        cur = "[bp]"

    # ---- caption (drawn after the grade, like the factory)
    if sub is not None and not no_text:
        texts = sub.get("text", {})
        loc = job["locale"]
        txt = texts.get(loc) or texts.get(loc.split("-")[0]) or next(iter(texts.values()))
        size = float(sub.get("size", 0.06)) * W
        ax, ay, aw, ah = safe_area(preset, rtl)
        wrapped = wrap(txt, size, aw * 0.92)
        tf = textdir / f"{job['index']}.txt"
        tf.write_text(wrapped)
        font = FONTS["arabic"] if rtl else FONTS["latin"]
        dt_ = [f"fontfile={font}", f"textfile={tf}", "expansion=none", f"fontsize={size:.1f}",
               f"fontcolor={ff_colour(sub.get('color', '#ffffff'))}", f"line_spacing={size * 0.25:.1f}"]
        pad = 0.0
        if "outline" in sub:
            o = sub["outline"]
            dt_ += [f"borderw={max(1, round(float(o.get('width', 2)) * size / 48.0))}", f"bordercolor={ff_colour(o.get('color', '#000000'))}"]
        if "box" in sub:
            b = sub["box"]
            pad = float(b.get("padding", 0.3)) * size
            dt_ += ["box=1", f"boxcolor={ff_colour(b.get('color', '#000000a0'))}", f"boxborderw={round(pad)}"]
        margin = int(ah * 0.04)
        pos = sub.get("position", "bottom")
        if pos == "top":
            y = f"{ay + margin + round(pad)}"
        elif pos == "center":
            y = f"{ay}+({ah}-text_h)/2"
        else:
            y = f"{ay + ah - margin - round(pad)}-text_h"
        dt_ += [f"x={ax}+({aw}-text_w)/2", f"y={y}"]
        fc.append(f"{cur}drawtext=" + ":".join(dt_.__iter__()).replace(",", "\\,") + "[bt]")
        cur = "[bt]"

    # ---- fades and output
    tail = ""
    if is_video and fx is not None:
        fi, fo = float(fx.get("fade_in", 0.0)), float(fx.get("fade_out", 0.0))
        if fi > 0:
            tail += f",fade=t=in:st=0:d={fi}"
        if fo > 0:
            tail += f",fade=t=out:st={D - fo}:d={fo}"
    fc.append(f"{cur}format=yuv420p{tail}[v]" if is_video else f"{cur}format=yuvj420p[v]")

    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs]
    amap: list[str] = []
    if is_video:
        a = preset.get("audio", {})
        sr, chn, kbps = a.get("sample_rate", 48000), a.get("channels", 2), a.get("bitrate_kbps", 128)
        if aud is not None and aud.get("source"):
            ai = n_in
            cmd += ["-i", str((tdir / aud["source"]).resolve())]
            af = f"[{ai}:a]atrim=start={float(aud.get('start', 0.0))},asetpts=PTS-STARTPTS"
            if float(aud.get("volume", 1.0)) != 1.0:
                af += f",volume={aud['volume']}"
            if float(aud.get("fade_in", 0.0)) > 0:
                af += f",afade=t=in:st=0:d={aud['fade_in']}"
            if float(aud.get("fade_out", 0.0)) > 0:
                af += f",afade=t=out:st={D - float(aud['fade_out'])}:d={aud['fade_out']}"
        else:
            cmd += ["-f", "lavfi", "-i", f"anullsrc=r={sr}:cl=stereo"]
            af = f"[{n_in}:a]anull"
        fc.append(af + "[a]")
        amap = ["-map", "[a]", "-c:a", "aac", "-b:a", f"{kbps}k", "-ar", str(sr), "-ac", str(chn)]
        v = preset["video"]
        cmd += ["-filter_complex", ";".join(fc), "-map", "[v]", *amap,
                "-c:v", "libx264", "-preset", v.get("speed", "veryfast"), "-crf", str(v.get("crf", 23)),
                "-profile:v", v.get("profile", "high"), "-pix_fmt", "yuv420p", "-g", str(v.get("gop", 2 * fps)),
                "-r", str(fps), "-t", f"{D}", "-movflags", "+faststart", str(out)]
    else:
        img = preset.get("image", {})
        q = int(img.get("quality", 90))
        # mjpeg -q:v 2..31; quality 90 ≈ 2, quality 75 ≈ 5.
        qv = max(2, min(31, round(2 + (90 - q) / 5)))
        cmd += ["-filter_complex", ";".join(fc), "-map", "[v]", "-frames:v", "1", "-q:v", str(qv), str(out)]
    return cmd


_dims_cache: dict[Path, tuple[int, int]] = {}


def _dims(p: Path) -> tuple[int, int]:
    if p not in _dims_cache:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(p)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        w, h = out.split(",")[:2]
        _dims_cache[p] = (int(w), int(h))
    return _dims_cache[p]


FONTS: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------
# the benchmark


def plan(factory: Path, template: Path, extra: list[str]) -> dict:
    r = subprocess.run([str(factory), "plan", str(template), "--json", *extra], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"factory plan failed:\n{r.stderr}")
    return json.loads(r.stdout)


def factory_render(factory: Path, template: Path, out: Path, extra: list[str]) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    log = out.parent / f"{out.name}.log"
    r = run_measured([str(factory), "render", str(template), "--out", str(out), "--progress", "plain", *extra], cwd=ROOT, log=log)
    if r.rc != 0:
        print(f"  factory render exited {r.rc}: {r.err}", file=sys.stderr)
    # Where the time goes: the per-output times the factory prints (`ok FILE SIZE 6.7 s`).
    per = {"video": 0.0, "image": 0.0}
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"ok\s+(\S+)\s.*?([\d.]+) s$", line)
        if m:
            per["video" if m.group(1).endswith((".mp4", ".mov", ".webm")) else "image"] += float(m.group(2))
    r.per_kind = per
    return r


def ffmpeg_batch(cmds: list[list[str]], parallel: int) -> Run:
    t0 = time.perf_counter()
    peak, rc, err, cpu = 0, 0, "", 0.0
    with cf.ThreadPoolExecutor(max_workers=parallel) as pool:
        for r in pool.map(run_measured, cmds):
            peak = max(peak, r.peak_kb)
            cpu += r.cpu
            if r.rc != 0:
                rc, err = r.rc, r.err
    wall = time.perf_counter() - t0
    if rc:
        print(f"  an ffmpeg command failed ({rc}): {err}", file=sys.stderr)
    return Run(wall, peak, rc, err, cpu=cpu)


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def memory_scaling(factory: Path, work: Path) -> dict:
    """benches/batch.toml as-is (24 variants, `strategy = full`) vs a copy drawing 6 variants with
    `strategy = sample` (a seed chosen so the 6 still use every background, i.e. the same
    decoded inputs)."""
    src = ROOT / "benches" / "batch.toml"
    text = src.read_text()
    # Temp copies live next to the original so the relative asset paths still resolve.
    t24 = ROOT / "benches" / f".batch-24-{os.getpid()}.toml"
    t6 = ROOT / "benches" / f".batch-6-{os.getpid()}.toml"
    try:
        t24.write_text(text)
        n_bg = len(tomllib.loads(text)["background"])
        chosen = None
        for seed in range(50):
            t6.write_text(text.replace('strategy = "full"', f'strategy = "sample"\ncount = 6\nseed = {seed}'))
            pl = plan(factory, t6, [])
            if len({v["choices"]["background"] for v in pl["variants"]}) == n_bg:
                chosen = seed
                break
        p24 = plan(factory, t24, [])
        res = {"seed": chosen, "outputs_6": len(pl["jobs"]), "outputs_24": len(p24["jobs"]),
               "variants_6": len(pl["variants"]), "variants_24": len(p24["variants"])}
        print(f"memory scaling: {res['variants_6']} variants ({res['outputs_6']} outputs, sample seed {chosen}) "
              f"vs {res['variants_24']} variants ({res['outputs_24']} outputs)", flush=True)
        r6 = factory_render(factory, t6, work / "mem6", [])
        print(f"  6 variants:  {r6.wall:7.1f} s  peak RSS {r6.peak_kb / 1024:7.1f} MiB", flush=True)
        r24 = factory_render(factory, t24, work / "mem24", [])
        print(f"  24 variants: {r24.wall:7.1f} s  peak RSS {r24.peak_kb / 1024:7.1f} MiB", flush=True)
        res.update(wall_6=r6.wall, wall_24=r24.wall, rss_6_mib=r6.peak_kb / 1024, rss_24_mib=r24.peak_kb / 1024,
                   ratio=r24.peak_kb / max(r6.peak_kb, 1), ok=(r6.rc == 0 and r24.rc == 0))
        return res
    finally:
        t24.unlink(missing_ok=True)
        t6.unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="US region only, no memory scaling")
    ap.add_argument("--template", default="templates/demo.toml")
    ap.add_argument("--regions", help="only these regions (passed to factory)")
    ap.add_argument("--presets", help="only these presets (passed to factory)")
    ap.add_argument("--factory-jobs", default="default,2",
                    help="comma list of --jobs values to time the factory with ('default' = its own choice)")
    ap.add_argument("--parallel", type=int, default=2, help="ffmpeg processes at once for the pooled run (0 = skip)")
    ap.add_argument("--ffmpeg-first", action="store_true", help="time the ffmpeg runs before the factory runs")
    ap.add_argument("--no-memory", action="store_true", help="skip the 6-vs-24 memory scaling")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the outputs (printed path)")
    ap.add_argument("--json-out", help="also write the figures as JSON here")
    ap.add_argument("--print-commands", action="store_true", help="print the ffmpeg commands")
    args = ap.parse_args()
    if args.quick:
        args.regions = args.regions or "US"
        args.no_memory = True
        if args.factory_jobs == "default,2":  # not given: one factory run
            args.factory_jobs = "default"

    for tool in ("ffmpeg", "ffprobe", "fc-match"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found on PATH")
    FONTS["latin"] = font_file("Noto Sans")
    FONTS["arabic"] = font_file("Noto Sans Arabic")

    work = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    factory = factory_binary(args.no_build, work)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    figures: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "commit": commit + (" (+ uncommitted src changes)" if dirty else ""),
        "ffmpeg": subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0],
    }
    print(f"{figures['date']}  {figures['machine']}  commit {figures['commit']}  load {loadavg()}")
    print(f"work dir {work}")

    try:
        if not args.memory_only:
            template = (ROOT / args.template).resolve()
            sel: list[str] = []
            if args.regions:
                sel += ["--regions", args.regions]
            if args.presets:
                sel += ["--presets", args.presets]
            pl = plan(factory, template, sel)
            t = tomllib.loads(template.read_text())
            tdir = template.parent
            jobs = pl["jobs"]
            presets = {j["preset"]: load_preset(j["preset"]) for j in jobs}
            ffout = work / "ffmpeg"
            textdir = work / "text"
            ffout.mkdir()
            textdir.mkdir()
            cmds = []
            for j in jobs:
                out = ffout / j["file"]
                out.parent.mkdir(parents=True, exist_ok=True)
                cmds.append(ffmpeg_command(t, tdir, j, presets[j["preset"]], out, textdir))
            if args.print_commands:
                for c in cmds:
                    print(" ".join(_q(a) for a in c))
            n_video = sum(1 for j in jobs if j["kind"] == "video")
            figures.update(template=args.template, selection=" ".join(sel) or "all", outputs=len(jobs),
                           videos=n_video, images=len(jobs) - n_video)
            print(f"{args.template} {' '.join(sel)}: {len(jobs)} outputs ({n_video} videos, {len(jobs) - n_video} images)\n", flush=True)

            def factory_runs() -> list:
                out = []
                for fj in args.factory_jobs.split(","):
                    extra = [] if fj == "default" else ["--jobs", fj]
                    print(f"factory render {' '.join(sel + extra)} (load {loadavg()}) …", flush=True)
                    r = factory_render(factory, template, work / f"factory-{fj}", sel + extra)
                    pk = r.per_kind or {}
                    print(f"  {r.wall:.1f} s, peak RSS {r.peak_kb / 1024:.0f} MiB; per-output times summed: "
                          f"videos {pk.get('video', 0):.1f} s, images {pk.get('image', 0):.1f} s", flush=True)
                    out.append((f"factory --jobs {fj}", r))
                return out

            def ffmpeg_runs() -> list:
                print(f"ffmpeg × {len(cmds)} sequential (load {loadavg()}) …", flush=True)
                seq = ffmpeg_batch(cmds, 1)
                print(f"  {seq.wall:.1f} s, largest process {seq.peak_kb / 1024:.0f} MiB", flush=True)
                out = [("ffmpeg, sequential", seq)]
                if args.parallel and args.parallel > 1:
                    print(f"ffmpeg × {len(cmds)}, {args.parallel} at a time (load {loadavg()}) …", flush=True)
                    par = ffmpeg_batch(cmds, args.parallel)
                    print(f"  {par.wall:.1f} s, largest process {par.peak_kb / 1024:.0f} MiB", flush=True)
                    out.append((f"ffmpeg, {args.parallel} in parallel", par))
                return out

            if args.ffmpeg_first:
                ff_rows = ffmpeg_runs()
                rows = factory_runs() + ff_rows
            else:
                rows = factory_runs()
                rows += ffmpeg_runs()
            seq = rows[[n for n, _ in rows].index("ffmpeg, sequential")][1]
            par = next((r for n, r in rows if n.startswith("ffmpeg, ") and "parallel" in n), None)
            figures["order"] = "ffmpeg first" if args.ffmpeg_first else "factory first"

            print()
            print(f"{'run':<24} {'wall s':>8} {'÷ ffmpeg seq':>13} {'÷ ffmpeg par':>13} {'CPU s':>8} {'peak RSS MiB':>13}")
            table = []
            for name, r in rows:
                rs = r.wall / seq.wall
                rp = r.wall / par.wall if par else float("nan")
                print(f"{name:<24} {r.wall:8.1f} {rs:13.2f} {rp:13.2f} {r.cpu:8.1f} {r.peak_kb / 1024:13.0f}" + ("" if r.rc == 0 else f"  (exit {r.rc})"))
                table.append({"run": name, "wall_s": round(r.wall, 1), "ratio_vs_seq": round(rs, 3),
                              "ratio_vs_par": None if par is None else round(rp, 3),
                              "peak_rss_mib": round(r.peak_kb / 1024), "rc": r.rc, "cpu_s": round(r.cpu, 1),
                              "per_output_s": {k: round(v, 1) for k, v in (r.per_kind or {}).items()} or None})
            figures["table"] = table
            best = min((r for n, r in rows if n.startswith("factory")), key=lambda r: r.wall)
            print(f"\nbest factory / ffmpeg sequential = {best.wall / seq.wall:.2f}  (target ≤ 0.70)")
            if par:
                print(f"best factory / ffmpeg {args.parallel}-parallel = {best.wall / par.wall:.2f}")
            figures["load_after"] = loadavg()

        if not args.no_memory:
            print()
            figures["memory"] = memory_scaling(factory, work)
            m = figures["memory"]
            print(f"  peak RSS 24 / 6 = {m['ratio']:.2f}  (target ≤ 1.20)")

        if args.json_out:
            Path(args.json_out).write_text(json.dumps(figures, indent=2))
    finally:
        if args.keep:
            print(f"outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _q(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main())
