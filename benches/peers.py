#!/usr/bin/env python3
"""Peer benchmark: one 8 s 1080×1920 variant made by `factory render`, by one plain
`ffmpeg -filter_complex` command and by MoviePy, timed side by side.

    python3 benches/peers.py                    # 3 interleaved runs of each, medians and ratios
    python3 benches/peers.py --runs 5 --frames  # also save a frame of each to docs/img/peers-*.jpg
    python3 benches/peers.py --no-moviepy       # factory and ffmpeg only (no network needed)

The composite is benches/peers.toml (TikTok 1080×1920, 8 s, 30 fps: the brick still, the
coffee-cup cut-out with a shadow, a caption long enough to wrap onto two lines, music; x264
veryfast CRF 23 from presets/tiktok.toml). The two peers are built from the same file, with
the same pixel geometry (cover-cropped background, product size and position, shadow, caption
font file from `fc-match`, size, colour, outline and place) — and each written the way an
operator writes it:

- **ffmpeg**: one command, `-loop 1` still, `scale`+`crop`, `overlay` of the cut-out and its
  blurred shadow, `drawtext` with the caption as given (drawtext does not wrap), `afade` on
  the music, libx264 veryfast CRF 23, AAC 128 kb/s.
- **MoviePy** (pinned, installed from PyPI into a virtualenv that is cached under
  ~/.cache/creative-factory-bench/ or `--venv DIR`; `--venv temp` makes a throwaway one in the
  run's temporary directory): ImageClip background resized and cropped, the cut-out as an
  ImageClip with a Pillow-blurred shadow, TextClip(method="caption") at the caption's width,
  AudioFileClip with AudioFadeOut, write_videofile(libx264, preset veryfast, CRF 23 via
  ffmpeg_params, AAC 128k). Only the render is timed (the Python process running the script:
  imports, composition, MoviePy's ffmpeg writer), never the install. If the virtualenv or the
  install fails (no network, no python3-venv) MoviePy is skipped with a message.

Runs are interleaved (the starting tool rotates each round) so load on the shared machine hits
all three alike, after one untimed warm-up round (`--warmup N`). Wall time is `time.perf_counter` around each process; CPU is user + system
from `os.wait4` for that process and the children it waited for (MoviePy's ffmpeg included);
peak RSS is the largest single process. The ratios are of the medians.

`--frames` saves the frame at `--frame-time` (4.0 s) of each output, 360 px wide, to
docs/img/peers-{factory,ffmpeg,moviepy}.jpg, and the three caption bands at full resolution,
stacked and scaled to 720 px wide (≤ 60 KB), to docs/img/peers-captions.jpg. Every run also checks each output's caption at
that frame on the full-size picture: caption pixels (the fill colour; the background is grey)
are found below the product, and the script reports their bounding box, the lines (row runs),
each line's height, whether the caption touches a frame edge, and whether each line is as
tall as the factory's line (a shorter one is cut off).

Python 3.11 standard library only; needs `ffmpeg`, `ffprobe`, `fc-match` and the release
binary (`FACTORY_BIN`, else `$CARGO_TARGET_DIR/release/factory` or target/release/factory,
built when missing), copied to the temporary directory first so a rebuild cannot swap it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
sys.dont_write_bytecode = True  # no benches/__pycache__ in the work tree
from batch import alpha_bbox, colour, font_file, load_preset, loadavg, safe_area  # noqa: E402

MOVIEPY = "2.1.2"
TEMPLATE = ROOT / "benches" / "peers.toml"
TOOLS = ("factory", "ffmpeg", "moviepy")


# ---------------------------------------------------------------------------------------------
# running things


def run_measured(cmd: list[str], log: Path, cwd: Path | None = None, env: dict | None = None) -> dict:
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f"{cmd[0]} … failed ({rc}):\n{log.read_text(errors='replace')[-3000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024}


def factory_binary(snapdir: Path) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "factory"
    if os.environ.get("FACTORY_BIN"):
        target = Path(os.environ["FACTORY_BIN"])
    if not target.exists():
        print("building the release binary …", flush=True)
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    snap = snapdir / "factory"
    shutil.copy2(target, snap)
    return snap


# ---------------------------------------------------------------------------------------------
# the composite, in pixels (the renderer's formulas, src/render/mod.rs; as benches/batch.py)


def layout(template: Path) -> dict:
    t = tomllib.loads(template.read_text())
    tdir = template.parent
    preset = load_preset(t["output"]["presets"][0])
    W, H, fps = preset["width"], preset["height"], t["template"].get("fps", preset.get("fps", 30))
    D = float(t["template"]["duration"])
    ax, ay, aw, ah = safe_area(preset, rtl=False)
    bg, prod, sub, aud = t["background"][0], t["product"][0], t["subtitle"][0], t["audio"][0]

    src = (tdir / prod["source"]).resolve()
    bx, by, bw, bh, _, _ = alpha_bbox(src)
    s = min(prod["scale"] * aw / bw, prod["scale"] * ah / bh)
    tw, th = max(1, round(bw * s)), max(1, round(bh * s))
    off = prod.get("offset", [0.0, 0.0])
    assert prod.get("anchor", "center") == "center", "peers.py places a centred product only"
    px, py = round(ax + (aw - tw) / 2 + off[0] * W), round(ay + (ah - th) / 2 + off[1] * H)
    sh = prod.get("shadow", {})
    short = min(W, H)
    so = sh.get("offset", [0.01, 0.01])
    shadow = {"dx": round(so[0] * short), "dy": round(so[1] * short),
              "r": max(0, round(float(sh.get("blur", 0.02)) * short)),
              "alpha": colour(sh.get("color", "#00000080"))[3] / 255}

    size = float(sub.get("size", 0.06)) * W
    fam = (sub.get("font") or ["Noto Sans"])[0]
    assert sub.get("position", "bottom") == "bottom", "peers.py places a bottom caption only"
    margin = int(ah * 0.04)
    r, g, b, _ = colour(sub.get("color", "#ffffff"))
    ol = sub.get("outline", {"color": "#000000", "width": 2})
    caption = {
        "text": sub["text"]["en"] if isinstance(sub["text"], dict) else sub["text"],
        "font": font_file(fam), "family": fam,
        "size": round(size), "color": f"#{r:02x}{g:02x}{b:02x}", "rgb": [r, g, b],
        "outline": max(1, round(float(ol.get("width", 2)) * size / 48.0)),
        "outline_color": ol.get("color", "#000000")[:7],
        # The factory wraps to 92 % of the safe width and centres the block in the safe area.
        "box_x": ax, "box_w": aw, "wrap_w": round(aw * 0.92), "bottom": ay + ah - margin,
    }
    music = (tdir / aud["source"]).resolve()
    v, a = preset["video"], preset["audio"]
    return {
        "W": W, "H": H, "fps": fps, "D": D,
        "background": str((tdir / bg["image"]).resolve()),
        "product": {"src": str(src), "crop": [bx, by, bw, bh], "w": tw, "h": th, "x": px, "y": py, "shadow": shadow},
        "caption": caption,
        "music": str(music), "fade_out": float(aud.get("fade_out", 0.0)),
        "x264": {"preset": v["speed"], "crf": v["crf"], "profile": v["profile"], "gop": v["gop"]},
        "aac": {"kbps": a["bitrate_kbps"], "rate": a["sample_rate"], "channels": a["channels"]},
    }


# ---------------------------------------------------------------------------------------------
# the ffmpeg peer: one command


def ffmpeg_command(L: dict, work: Path, out: Path) -> list[str]:
    W, H, D, fps = L["W"], L["H"], L["D"], L["fps"]
    p, c, sh = L["product"], L["caption"], L["product"]["shadow"]
    bx, by, bw, bh = p["crop"]
    m = 3 * sh["r"]
    textfile = work / "caption.txt"
    textfile.write_text(c["text"])  # as given: drawtext has no wrapping
    x264 = L["x264"]
    fc = ";".join([
        f"[0:v]scale=-2:{H},crop={W}:{H},setsar=1[bg]",
        f"[1:v]crop={bw}:{bh}:{bx}:{by},scale={p['w']}:{p['h']},format=rgba,split[cup][cup2]",
        f"[cup2]pad=iw+{2 * m}:ih+{2 * m}:{m}:{m}:color=black@0,"
        f"colorchannelmixer=rr=0:gg=0:bb=0:aa={sh['alpha']:.3f},boxblur=luma_radius={sh['r']}:luma_power=3[shadow]",
        f"[bg][shadow]overlay={p['x'] + sh['dx'] - m}:{p['y'] + sh['dy'] - m}[b1]",
        f"[b1][cup]overlay={p['x']}:{p['y']},"
        f"drawtext=fontfile={c['font']}:textfile={textfile}:fontsize={c['size']}:fontcolor={c['color']}:"
        f"borderw={c['outline']}:bordercolor={c['outline_color']}:"
        f"x=(w-text_w)/2:y={c['bottom']}-text_h,format=yuv420p[v]",
        f"[2:a]afade=t=out:st={D - L['fade_out']}:d={L['fade_out']}[a]",
    ])
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-loop", "1", "-framerate", str(fps), "-t", str(D), "-i", L["background"],
        "-i", p["src"], "-i", L["music"],
        "-filter_complex", fc, "-map", "[v]", "-map", "[a]", "-t", str(D),
        "-c:v", "libx264", "-preset", x264["preset"], "-crf", str(x264["crf"]), "-profile:v", x264["profile"],
        "-g", str(x264["gop"]), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", f"{L['aac']['kbps']}k", "-ar", str(L["aac"]["rate"]), "-ac", str(L["aac"]["channels"]),
        "-movflags", "+faststart", str(out),
    ]


# ---------------------------------------------------------------------------------------------
# the MoviePy peer: a virtualenv with moviepy==2.1.2 and a short script

MOVIEPY_SCRIPT = r'''
import json, sys
import numpy as np
from PIL import Image, ImageFilter
from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip, afx

L = json.load(open(sys.argv[1]))
out, tmpdir = sys.argv[2], sys.argv[3]
W, H, D = L["W"], L["H"], L["D"]
p, c, s = L["product"], L["caption"], L["product"]["shadow"]

bg = ImageClip(L["background"]).resized(height=H)
bg = bg.cropped(x_center=bg.w / 2, width=W).with_duration(D)

bx, by, bw, bh = p["crop"]
cup_img = Image.open(p["src"]).convert("RGBA").crop((bx, by, bx + bw, by + bh)).resize((p["w"], p["h"]), Image.BILINEAR)
cup = ImageClip(np.array(cup_img)).with_position((p["x"], p["y"])).with_duration(D)
# The shadow: the cut-out's alpha, darkened and blurred with Pillow (MoviePy has no shadow).
m = 3 * s["r"]
alpha = Image.new("L", (p["w"] + 2 * m, p["h"] + 2 * m), 0)
alpha.paste(cup_img.getchannel("A"), (m, m))
alpha = alpha.point(lambda v: int(v * s["alpha"])).filter(ImageFilter.GaussianBlur(s["r"]))
shadow_img = Image.merge("RGBA", (*[Image.new("L", alpha.size, 0)] * 3, alpha))
shadow = ImageClip(np.array(shadow_img)).with_position((p["x"] + s["dx"] - m, p["y"] + s["dy"] - m)).with_duration(D)

caption = TextClip(font=c["font"], text=c["text"], font_size=c["size"], color=c["color"],
                   stroke_color=c["outline_color"], stroke_width=c["outline"],
                   method="caption", size=(c["wrap_w"], None), text_align="center").with_duration(D)
caption = caption.with_position((c["box_x"] + (c["box_w"] - caption.w) // 2, c["bottom"] - caption.h))

music = AudioFileClip(L["music"]).subclipped(0, D).with_effects([afx.AudioFadeOut(L["fade_out"])])
video = CompositeVideoClip([bg, shadow, cup, caption], size=(W, H)).with_duration(D).with_audio(music)
x = L["x264"]
video.write_videofile(out, fps=L["fps"], codec="libx264", preset=x["preset"],
                      audio_codec="aac", audio_bitrate=f"{L['aac']['kbps']}k", audio_fps=L["aac"]["rate"],
                      ffmpeg_params=["-crf", str(x["crf"]), "-profile:v", x["profile"], "-g", str(x["gop"]),
                                     "-pix_fmt", "yuv420p"],
                      temp_audiofile_path=tmpdir, logger=None)
'''


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def moviepy_env(venv: Path) -> tuple[Path | None, str]:
    """(python of a virtualenv with moviepy==MOVIEPY, '') or (None, why not)."""
    py = venv_python(venv)
    probe = "import importlib.metadata as m; print(m.version('moviepy'))"
    if py.exists():
        r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == MOVIEPY:
            return py, ""
    print(f"creating a virtualenv for moviepy=={MOVIEPY} in {venv} …", flush=True)
    r = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True)
    if r.returncode != 0:
        why = r.stdout + r.stderr
        if "ensurepip" in why or "venv" in why:
            return None, ("python3 -m venv failed: the venv/ensurepip module is missing. On Debian/Ubuntu install "
                          "it with `apt-get install python3-venv` (scripts/setup-deps.sh does).\n" + why.strip()[-500:])
        return None, "python3 -m venv failed:\n" + why.strip()[-1000:]
    t0 = time.perf_counter()
    r = subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--timeout", "30",
                        f"moviepy=={MOVIEPY}"], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return None, f"pip install moviepy=={MOVIEPY} failed (no network or no PyPI?):\n" + (r.stdout + r.stderr).strip()[-1000:]
    print(f"  installed in {time.perf_counter() - t0:.0f} s (not timed in the benchmark)", flush=True)
    return py, ""


def versions(py: Path | None) -> dict:
    v = {"ffmpeg": subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]}
    if py:
        code = ("import importlib.metadata as m, subprocess, imageio_ffmpeg as i; "
                "print(m.version('moviepy')); print(m.version('pillow')); print(m.version('numpy')); "
                "print(subprocess.run([i.get_ffmpeg_exe(), '-version'], capture_output=True, text=True).stdout.splitlines()[0])")
        out = subprocess.run([str(py), "-c", code], capture_output=True, text=True).stdout.splitlines()
        if len(out) == 4:
            v.update(moviepy=out[0], pillow=out[1], numpy=out[2], moviepy_ffmpeg=out[3])
    return v


# ---------------------------------------------------------------------------------------------
# the caption check (stdlib only: the frame as raw RGB from ffmpeg)


def frame_rgb(video: Path, t: float, W: int, H: int) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-ss", str(t), "-i", str(video), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout[: W * H * 3]


def caption_measure(rgb: bytes, L: dict) -> dict:
    """Caption pixels: near the fill colour (the background is grey, so colour is caption) in
    the rows below the product and its shadow. Returns their bounding box, the lines (runs of
    rows with caption pixels), whether the caption touches a frame edge, and how much of the
    outline is left under the last line's lowest glyph parts (its descenders): a caption cut
    off at the bottom keeps little or none of it."""
    W, H = L["W"], L["H"]
    p, sh, c = L["product"], L["product"]["shadow"], L["caption"]
    top = p["y"] + p["h"] + sh["dy"] + 3 * sh["r"] + 4
    cr, cg, cb = c["rgb"]

    def fill(y: int, x: int) -> bool:
        i = 3 * (y * W + x)
        r, g, b = rgb[i], rgb[i + 1], rgb[i + 2]
        return abs(r - cr) < 50 and abs(g - cg) < 50 and abs(b - cb) < 70 and r - b > 60

    def dark(y: int, x: int) -> bool:
        i = 3 * (y * W + x)
        return max(rgb[i], rgb[i + 1], rgb[i + 2]) < 50

    rows: dict[int, list[int]] = {}  # y → the x of its caption pixels
    for y in range(top, H):
        xs = [x for x in range(W) if fill(y, x)]
        if len(xs) >= 2:
            rows[y] = xs
    if not rows:
        return {"found": False}
    lines: list[list[int]] = []
    for y in sorted(rows):
        if lines and y - lines[-1][1] <= 3:
            lines[-1][1] = y
        else:
            lines.append([y, y])
    # Runs shorter than a fifth of the font size are specks (a comma's tail, an i's dot).
    lines = [ln for ln in lines if ln[1] - ln[0] + 1 >= c["size"] / 5]
    x0 = min(min(xs) for xs in rows.values())
    x1 = max(max(xs) for xs in rows.values())
    # Outline under the last line: in each column where the line's fill reaches its lowest
    # rows, the dark pixels in the outline's width (+2) below the lowest fill pixel.
    a, b = lines[-1]
    low: dict[int, int] = {}
    for y in range(a, b + 1):
        for x in rows.get(y, ()):
            low[x] = y
    under = [sum(dark(y + k, x) for k in range(1, c["outline"] + 3) if y + k < H)
             for x, y in low.items() if y >= b - 2]
    return {
        "found": True, "bbox": [x0, min(rows), x1, max(rows)],
        "lines": len(lines), "line_heights": [q - p_ + 1 for p_, q in lines], "line_tops": [p_ for p_, _ in lines],
        "touches_left": x0 <= 1, "touches_right": x1 >= W - 2,
        "outline_under_last_line_px": statistics.median(under) if under else 0,
    }


def verdict(m: dict, ref: dict | None) -> list[str]:
    """What is wrong with a caption measured by caption_measure, against the factory's (ref)."""
    if not m.get("found"):
        return ["no caption found"]
    bad = []
    if m["touches_left"] or m["touches_right"]:
        sides = [s for s, k in (("left", "touches_left"), ("right", "touches_right")) if m[k]]
        bad.append(f"caption runs off the frame at the {' and '.join(sides)} edge{'s' if len(sides) > 1 else ''}" + (" (one line: not wrapped)" if m["lines"] == 1 else ""))
    if ref and ref.get("found"):
        if m["lines"] != ref["lines"]:
            bad.append(f"{m['lines']} line(s) where the factory has {ref['lines']}")
        for i, (h, rh) in enumerate(zip(m["line_heights"], ref["line_heights"])):
            if h < 0.85 * rh:
                bad.append(f"line {i + 1} is cut off: {h} px tall where the factory's is {rh} px")
        ou, ro = m["outline_under_last_line_px"], ref["outline_under_last_line_px"]
        if ou < 0.5 * ro:
            bad.append(f"the last line is cut off at the bottom: its lowest glyph parts keep {ou:g} px of outline "
                       f"below them where the factory's keep {ro:g} px")
    return bad


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="interleaved rounds (default 3); medians are reported")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds before the timed ones (default 1)")
    ap.add_argument("--template", default=str(TEMPLATE), help="the composite (default benches/peers.toml; one background "
                    "image, one centred product, one bottom caption, one music track)")
    ap.add_argument("--frames", action="store_true", help="save a frame of each output to docs/img/peers-*.jpg")
    ap.add_argument("--frame-time", type=float, default=4.0, help="the frame's time in seconds (default 4.0)")
    ap.add_argument("--no-moviepy", action="store_true", help="factory and ffmpeg only")
    ap.add_argument("--venv", help="virtualenv for MoviePy (default ~/.cache/creative-factory-bench/"
                                   f"moviepy-{MOVIEPY}; 'temp' = a throwaway one in the run's temporary directory)")
    ap.add_argument("--keep", help="keep the outputs, logs and scripts in this directory")
    ap.add_argument("--json-out", help="also write the figures as JSON here")
    ap.add_argument("--print-commands", action="store_true", help="print the ffmpeg command and the MoviePy script")
    args = ap.parse_args()
    for tool in ("ffmpeg", "ffprobe", "fc-match"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found on PATH")

    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="cf-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        factory = factory_binary(work)
        template = Path(args.template).resolve()
        L = layout(template)
        (work / "layout.json").write_text(json.dumps(L, indent=2))

        # MoviePy's environment first: the install is not part of any timing.
        py, why = None, "skipped (--no-moviepy)"
        if not args.no_moviepy:
            if args.venv == "temp":
                venv = work / "venv"
            elif args.venv:
                venv = Path(args.venv).expanduser().resolve()
            else:
                cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                venv = cache / "creative-factory-bench" / f"moviepy-{MOVIEPY}"
            venv.parent.mkdir(parents=True, exist_ok=True)
            py, why = moviepy_env(venv)
            if py is None:
                print(f"MoviePy skipped: {why}", file=sys.stderr, flush=True)
        (work / "moviepy_peer.py").write_text(MOVIEPY_SCRIPT)

        outs = {t: work / f"{t}.mp4" for t in TOOLS}
        fac_out = work / "factory-out"
        cmds = {
            "factory": [str(factory), "render", str(template), "--out", str(fac_out), "--progress", "plain"],
            "ffmpeg": ffmpeg_command(L, work, outs["ffmpeg"]),
        }
        if py:
            mp_tmp = work / "moviepy-tmp"
            mp_tmp.mkdir(exist_ok=True)
            cmds["moviepy"] = [str(py), str(work / "moviepy_peer.py"), str(work / "layout.json"), str(outs["moviepy"]), str(mp_tmp)]
        if args.print_commands:
            print(shlex.join(cmds["ffmpeg"]))
            print(MOVIEPY_SCRIPT)

        ver = versions(py)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        figures: dict = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "commit": commit, "versions": ver, "runs": args.runs, "warmup": args.warmup, "load_before": loadavg(),
            "composite": f"{L['W']}x{L['H']} {L['D']:g} s {L['fps']} fps, x264 {L['x264']['preset']} crf {L['x264']['crf']}",
            "caption": L["caption"]["text"], "moviepy": "timed" if py else why.splitlines()[0],
        }
        print(f"{figures['composite']}; caption {L['caption']['text']!r} ({L['caption']['family']} "
              f"{L['caption']['size']} px, {L['caption']['font']})")
        print(" | ".join(f"{k} {v}" for k, v in ver.items()))

        tools = [t for t in TOOLS if t in cmds]
        res: dict[str, list[dict]] = {t: [] for t in tools}
        # Untimed warm-up rounds: inputs in the page cache, each program started once.
        for i in range(args.warmup):
            for t in tools:
                shutil.rmtree(fac_out, ignore_errors=True)
                outs[t].unlink(missing_ok=True)
                r = run_measured(cmds[t], work / f"{t}-warmup-{i + 1}.log", cwd=work)
                print(f"warm-up {t:<8} wall {r['wall']:6.2f} s (not counted)", flush=True)
        for i in range(args.runs):
            order = tools[i % len(tools):] + tools[: i % len(tools)]
            for t in order:
                if t == "factory":
                    shutil.rmtree(fac_out, ignore_errors=True)
                else:
                    outs[t].unlink(missing_ok=True)
                load = loadavg()
                r = run_measured(cmds[t], work / f"{t}-{i + 1}.log", cwd=work)
                r["load"] = load
                extra = ""
                if t == "factory":
                    # The output's own job time (`ok FILE SIZE 3.1 s`: compose, encode, loudness,
                    # mux, verify) against the whole process (start-up, decoding the inputs once,
                    # duplicate score, manifests, review page).
                    m = re.search(r"^ok\s+\S+\s.*?([\d.]+) s$", (work / f"{t}-{i + 1}.log").read_text(errors="replace"), re.M)
                    if m:
                        r["job_s"] = float(m.group(1))
                        extra = f"  (the output's job: {r['job_s']:.1f} s)"
                res[t].append(r)
                print(f"run {i + 1} {t:<8} wall {r['wall']:6.2f} s  CPU {r['cpu']:6.2f} s  peak RSS {r['peak_mib']:6.0f} MiB"
                      f"  load before {load}{extra}", flush=True)
        found = list(fac_out.rglob("*.mp4"))
        if len(found) != 1:
            sys.exit(f"factory: expected one mp4 in {fac_out}, found {found}")
        shutil.copy2(found[0], outs["factory"])

        med = {t: {k: statistics.median(r[k] for r in res[t]) for k in ("wall", "cpu", "peak_mib")} for t in tools}
        print(f"\n{'':<10} {'wall s (median)':>16} {'CPU s (median)':>15} {'peak RSS MiB':>13}   factory ÷ this (wall / CPU)")
        table = []
        for t in tools:
            m = med[t]
            rw, rc = med["factory"]["wall"] / m["wall"], med["factory"]["cpu"] / m["cpu"]
            print(f"{t:<10} {m['wall']:16.2f} {m['cpu']:15.2f} {m['peak_mib']:13.0f}   {rw:.2f}× / {rc:.2f}×"
                  + (f"   (this ÷ factory: {1 / rw:.1f}× / {1 / rc:.1f}×)" if t != "factory" else ""))
            table.append({"tool": t, "wall_s": [round(r["wall"], 2) for r in res[t]], "cpu_s": [round(r["cpu"], 2) for r in res[t]],
                          "peak_rss_mib": [round(r["peak_mib"]) for r in res[t]], "load_before": [r["load"] for r in res[t]],
                          "wall_median": round(m["wall"], 2), "cpu_median": round(m["cpu"], 2),
                          "factory_over_this_wall": round(rw, 3), "factory_over_this_cpu": round(rc, 3)}
                         | ({"job_s": [r.get("job_s") for r in res[t]]} if t == "factory" else {}))
        figures["table"] = table
        figures["load_after"] = loadavg()

        # The caption of each output at the frame time, measured on the full-size frame.
        print(f"\ncaption at {args.frame_time:g} s (caption-coloured pixels below the product):")
        meas = {t: caption_measure(frame_rgb(outs[t], args.frame_time, L["W"], L["H"]), L) for t in tools}
        checks = {}
        for t in tools:
            m, bad = meas[t], verdict(meas[t], meas["factory"] if t != "factory" else None)
            checks[t] = {**m, "problems": bad}
            desc = (f"bbox x {m['bbox'][0]}–{m['bbox'][2]}, y {m['bbox'][1]}–{m['bbox'][3]}; {m['lines']} line(s), "
                    f"heights {m['line_heights']} px, outline under the last line {m['outline_under_last_line_px']:g} px"
                    if m.get("found") else "none")
            print(f"  {t:<8} {desc}\n  {'':<8} → {'; '.join(bad) if bad else 'OK'}")
        figures["caption_check"] = checks

        if args.frames:
            img = ROOT / "docs" / "img"
            for t in tools:
                dest = img / f"peers-{t}.jpg"
                subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", str(args.frame_time), "-i", str(outs[t]),
                                "-frames:v", "1", "-vf", "scale=360:-2:flags=lanczos", "-q:v", "5", str(dest)], check=True)
                print(f"frame: {dest.relative_to(ROOT)} ({dest.stat().st_size // 1024} KB)")
            # The caption band of each at full resolution, stacked and labelled (at 360 px a
            # 10 px cut is 3 px: too small to see).
            found = [meas[t] for t in tools if meas[t].get("found")]
            if found:
                y0 = max(0, min(m["bbox"][1] for m in found) - 64)
                y1 = min(L["H"], max(m["bbox"][3] for m in found) + 24)
                names = {"factory": "factory", "ffmpeg": "ffmpeg (one command)", "moviepy": f"MoviePy {ver.get('moviepy', '')}"}
                ins, fcs = [], []
                for i, t in enumerate(tools):
                    ins += ["-ss", str(args.frame_time), "-i", str(outs[t])]
                    fcs.append(f"[{i}:v]trim=end_frame=1,crop={L['W']}:{y1 - y0}:0:{y0},"
                               f"drawbox=x=0:y=0:w=380:h=44:color=black@0.7:t=fill,"
                               f"drawtext=fontfile={L['caption']['font']}:text='{names[t]}':fontsize=30:fontcolor=white:x=10:y=6[c{i}]")
                fcs.append("".join(f"[c{i}]" for i in range(len(tools))) + f"vstack={len(tools)},scale=720:-2:flags=lanczos[out]")
                dest = img / "peers-captions.jpg"
                subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *ins, "-filter_complex", ";".join(fcs),
                                "-map", "[out]", "-frames:v", "1", "-q:v", "6", str(dest)], check=True)
                print(f"frame: {dest.relative_to(ROOT)} ({dest.stat().st_size // 1024} KB)")

        if args.json_out:
            Path(args.json_out).write_text(json.dumps(figures, indent=2))
    finally:
        if args.keep:
            print(f"outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
