#!/usr/bin/env python3
"""Catalog benchmark: main images at catalog scale, with the duplicate gate on and off.

    python3 benches/catalog.py                 # 588 images (gate on / off) + memory 147 vs 588
    python3 benches/catalog.py --products 4    # a smaller catalog
    python3 benches/catalog.py --video         # also the gate's share of a short video batch
    python3 benches/catalog.py --rounds 3      # three gate on / off pairs, medians reported
    python3 benches/catalog.py --tmp /dev/shm  # outputs in RAM: the factory's CPU without the disk's

A generated catalog template: P products × 6 captions × 4
backgrounds on Tmall 800×800 and Xiaohongshu 1080×1440, plus Amazon 1000×1000 (white
background, no text: one image per product, since the Amazon rule shows nothing else). The
products are the two sample cut-outs (`samples/product/`) turned into distinct products by
hue shifts and mirroring with ffmpeg, written to a temporary directory, so that every product
has its own sha256 and its own pixels.

For each run it reports wall time, CPU seconds (user + system of the factory process, from
wait4: what `/usr/bin/time -v` prints), peak RSS, and images per CPU-second; the gate's share
is 1 − CPU(gate off) / CPU(gate on), and, steadier on a shared machine, the share the gate-on
run measured of itself (`gate_cpu_seconds` of `cpu_seconds` in its manifest). Gate on is `[dedup] policy = "warn"` (every output is
scored, none held back, so both runs write the same files); off is `policy = "off"`.

Python 3.11 standard library only; needs `ffmpeg` and the release binary
(`$CARGO_TARGET_DIR/release/factory` or target/release/factory; built when missing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# At most 20 characters: Xiaohongshu's title limit.
CAPTIONS = [
    "Wake up better",
    "Roasted this week",
    "20% off today only",
    "Free shipping",
    "New season, new cup",
    "Bestseller: 4.9 ★",
]
BACKGROUNDS = [
    'image = "space.jpg"\nfit = "cover"',
    'image = "brick.jpg"\nfit = "cover"',
    'image = "rocket.jpg"\nfit = "cover"',
    'gradient = { from = "#3b2416", to = "#d9a46c", angle = 20 }',
]


def run_measured(cmd: list[str], log: Path) -> dict:
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f"{' '.join(cmd)} failed ({rc}):\n{log.read_text(errors='replace')[-3000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024}


def factory_binary(snapdir: Path) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "factory"
    if os.environ.get("FACTORY_BIN"):
        target = Path(os.environ["FACTORY_BIN"])
    if not target.exists():
        print("building the release binary …", flush=True)
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    # A snapshot, so a concurrent rebuild cannot swap the binary mid-run.
    snap = snapdir / "factory"
    shutil.copy2(target, snap)
    return snap


def make_distinct_products(n: int, dest: Path) -> list[Path]:
    """n products that are not copies of each other: discs of the Mandelbrot set's edge at n
    points around its main cardioid (ffmpeg's `mandelbrot` source), so that "same product?"
    has to be answered by keypoints for every pair, as in a catalog of distinct products."""
    out = []
    for i in range(n):
        t = 0.2 + i * (2 * math.pi - 0.4) / n
        x = math.cos(t) / 2 - math.cos(2 * t) / 4
        y = math.sin(t) / 2 - math.sin(2 * t) / 4
        src = (
            f"mandelbrot=s=400x400:start_x={x:.5f}:start_y={y:.5f}:start_scale=0.03:end_pts=1,"
            "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lte(hypot(X-200,Y-200),190),255,0)'"
        )
        p = dest / f"product-{i:02}.png"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", src, "-frames:v", "1", str(p)],
            check=True,
        )
        out.append(p)
    return out


def make_products(n: int, dest: Path) -> list[Path]:
    sources = [ROOT / "samples/product/coffee-cup.png", ROOT / "samples/product/badge.png"]
    out = []
    for i in range(n):
        src = sources[i % 2]
        hue = (i // 2) * 360 / max(1, (n + 1) // 2)
        vf = f"hue=h={hue:.0f}:s={1.0 + 0.1 * (i % 3):.1f}"
        if (i // 2) % 2:
            vf += ",hflip"
        p = dest / f"product-{i:02}.png"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-vf", vf + ",format=rgba", str(p)],
            check=True,
        )
        out.append(p)
    return out


def write_template(
    dest: Path, products: list[Path], policy: str, presets: list[str], captions: list[str] = CAPTIONS
) -> Path:
    parts = [
        "[template]",
        'name = "catalog-bench"',
        "version = 1",
        'kind = "image"',
        "",
        "[output]",
        f"presets = {json.dumps(presets)}",
        'regions = ["US"]',
        "",
        "[variants]",
        'strategy = "full"',
        "",
        "[dedup]",
        f'policy = "{policy}"',
        "",
    ]
    for i, bg in enumerate(BACKGROUNDS):
        parts += ["[[background]]", f'id = "bg-{i}"', bg, ""]
    for i, p in enumerate(products):
        parts += [
            "[[product]]",
            f'id = "product-{i:02}"',
            f'source = "{p.name}"',
            'anchor = "center"',
            "scale = 0.7",
            'shadow = { color = "#00000080", offset = [0.01, 0.015], blur = 0.015 }',
            "",
        ]
    for i, c in enumerate(captions):
        style = (
            'color = "#ffffff"\noutline = { color = "#000000", width = 4 }\nposition = "bottom"'
            if i % 2 == 0
            else 'color = "#1b1b1b"\nbox = { color = "#ffd54fee", padding = 0.35 }\nposition = "top"'
        )
        parts += ["[[subtitle]]", f'id = "caption-{i}"', f"text = {{ en = {json.dumps(c)} }}", "size = 0.07", style, ""]
    path = dest / f"catalog-{policy}-{len(products)}x{len(captions)}.toml"
    path.write_text("\n".join(parts))
    return path


def count_images(out: Path) -> int:
    # The outputs only: the review page's thumbnails (`report_files/`) are JPEGs too, and
    # counting them doubled every figure since the page was added.
    return sum(1 for p in out.rglob("*.jpg") if "report_files" not in p.relative_to(out).parts)


def render(factory: Path, template: Path, out: Path, jobs: str | None, log: Path) -> dict:
    cmd = [str(factory), "render", str(template), "--out", str(out), "--progress", "plain", "--force"]
    if jobs:
        cmd += ["--jobs", jobs]
    r = run_measured(cmd, log)
    r["images"] = count_images(out)
    r["per_cpu_s"] = r["images"] / r["cpu"]
    # What the run measured of itself (docs/EVENTS.md): the gate's CPU beside the process's.
    run = json.loads((out / "manifest.json").read_text()).get("run") or {}
    r["run_cpu"] = run.get("cpu_seconds")
    r["gate_cpu"] = run.get("gate_cpu_seconds")
    return r


def video_batch(factory: Path, tmp: Path, jobs: str | None) -> dict:
    """The gate's share on a video batch: benches/batch.toml's TikTok videos (24 × 5 s)."""
    res = {}
    for policy in ("warn", "off"):
        t = (ROOT / "benches/batch.toml").read_text()
        t = t.replace('root = ".."', '').replace("../samples", f"{ROOT}/samples")
        t = t.replace('presets = ["tiktok", "tmall-main"]', 'presets = ["tiktok"]')
        t += f'\n[dedup]\npolicy = "{policy}"\n'
        p = tmp / f"video-{policy}.toml"
        p.write_text(t)
        out = tmp / f"video-out-{policy}"
        # The template is written to a temporary directory and reads the repository's samples.
        cmd = [str(factory), "render", str(p), "--out", str(out), "--progress", "plain", "--force",
               "--allow-outside-root"]
        if jobs:
            cmd += ["--jobs", jobs]
        res[policy] = run_measured(cmd, tmp / f"video-{policy}.log")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=int, default=12, help="products in the big catalog (default 12: 588 images)")
    ap.add_argument("--small-products", type=int, default=3, help="products in the memory-scaling run (0 = skip)")
    ap.add_argument("--presets", default="tmall-main,xiaohongshu,amazon-main")
    ap.add_argument(
        "--distinct-products",
        action="store_true",
        help="products that are not recoloured copies of the two sample cut-outs (Mandelbrot discs)",
    )
    ap.add_argument("--jobs", default=None, help="factory --jobs (default: its own)")
    ap.add_argument(
        "--memory-captions",
        type=int,
        default=0,
        metavar="N",
        help="also render the small catalog with N captions instead of 6: the same inputs, "
        "N/6 times the images, to see whether peak memory grows with the number of images",
    )
    ap.add_argument("--video", action="store_true", help="also time a video batch with the gate on and off")
    ap.add_argument("--only-on", action="store_true", help="only the gate-on run of the big catalog (for perf)")
    ap.add_argument("--rounds", type=int, default=1, help="gate on / off pairs of the big catalog (medians reported)")
    ap.add_argument("--keep", metavar="DIR", help="write templates and outputs here and keep them")
    ap.add_argument(
        "--tmp",
        metavar="DIR",
        help="make the temporary directory (inputs and outputs) under DIR, e.g. /dev/shm: on a "
        "disk without a journal ext4 checks the inodes deleted in the last minutes for every file "
        "it creates, which costs more than the factory's own work after a few runs",
    )
    ap.add_argument("--json-out", metavar="FILE")
    a = ap.parse_args()
    presets = [p for p in a.presets.split(",") if p]

    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="catalog-bench-", dir=a.tmp))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        factory = factory_binary(tmp)
        make = make_distinct_products if a.distinct_products else make_products
        products = make(max(a.products, a.small_products), tmp)
        # Assets beside the template: a template may only read files under its directory.
        for bg in ("space.jpg", "brick.jpg", "rocket.jpg"):
            shutil.copy2(ROOT / "samples/bg" / bg, tmp / bg)
        results: dict = {"products": a.products, "presets": presets}
        policies = ["warn"] if a.only_on else ["warn", "off"]
        runs: dict[str, list] = {p: [] for p in policies}
        # Gate on and off alternate, `--rounds` times: this machine's speed drifts by ±20 %
        # within minutes, and a pair run side by side drifts together. Every run's outputs
        # stay until the end: ext4 without a journal checks the inodes deleted in the last
        # minutes when it creates a file, and deleting one run's 1,200 files just before the
        # next made that run's file creation 8–26 % of its CPU (`perf`, 2026-12-06; `--tmp`).
        for rnd in range(a.rounds):
            for policy in policies:
                t = write_template(tmp, products[: a.products], policy, presets)
                out = tmp / f"out-{policy}-{a.products}" if rnd == 0 else tmp / f"out-{policy}-{a.products}-{rnd}"
                r = render(factory, t, out, a.jobs, tmp / f"{policy}-{a.products}.log")
                runs[policy].append(r)
                print(
                    f"gate {'on ' if policy == 'warn' else 'off'} {r['images']:4} images: wall {r['wall']:7.2f} s, "
                    f"CPU {r['cpu']:7.2f} s, {r['per_cpu_s']:6.1f} images/CPU-s, peak RSS {r['peak_mib']:6.0f} MiB",
                    flush=True,
                )
        for policy, rs in runs.items():
            by_speed = sorted(rs, key=lambda r: r["per_cpu_s"])
            results[f"gate_{policy}"] = by_speed[len(by_speed) // 2]
            results[f"gate_{policy}_runs"] = rs
            if len(rs) > 1:
                print(
                    f"gate {'on ' if policy == 'warn' else 'off'}: images/CPU-s median "
                    f"{by_speed[len(by_speed) // 2]['per_cpu_s']:.1f}, best {by_speed[-1]['per_cpu_s']:.1f}, "
                    f"worst {by_speed[0]['per_cpu_s']:.1f} over {len(rs)} runs",
                    flush=True,
                )
        if not a.only_on:
            on, off = results["gate_warn"], results["gate_off"]
            share = 1 - off["cpu"] / on["cpu"]
            results["gate_share_cpu"] = share
            print(f"gate's share of the batch's CPU: {share * 100:.1f} % (×{on['cpu'] / off['cpu']:.2f})")
        on = results["gate_warn"]
        if on.get("gate_cpu") is not None and on.get("run_cpu"):
            results["gate_share_in_run"] = on["gate_cpu"] / on["run_cpu"]
            print(
                f"gate's share measured in the gate-on run: {on['gate_cpu']:.2f} of {on['run_cpu']:.2f} CPU-s "
                f"({100 * on['gate_cpu'] / on['run_cpu']:.1f} %)",
                flush=True,
            )
        if a.small_products and not a.only_on:
            t = write_template(tmp, products[: a.small_products], "warn", presets)
            out = tmp / f"out-warn-{a.small_products}"
            r = render(factory, t, out, a.jobs, tmp / f"warn-{a.small_products}.log")
            results["small_gate_on"] = r
            big = results["gate_warn"]
            print(
                f"memory: {r['images']} images peak RSS {r['peak_mib']:.0f} MiB, "
                f"{big['images']} images {big['peak_mib']:.0f} MiB (×{big['peak_mib'] / r['peak_mib']:.2f})"
            )
        if a.memory_captions:
            # Same products and backgrounds, more captions: only the number of images grows.
            many = [f"Deal {i + 1:02} of the week" for i in range(a.memory_captions)]
            mem_runs = {}
            for label, caps in (("6", CAPTIONS), (str(len(many)), many)):
                t = write_template(tmp, products[: a.small_products or 3], "warn", presets, caps)
                out = tmp / f"out-mem-{label}"
                mem_runs[label] = render(factory, t, out, a.jobs, tmp / f"mem-{label}.log")
            results["memory_by_images"] = mem_runs
            few, lots = mem_runs["6"], mem_runs[str(len(many))]
            print(
                f"memory, same inputs: {few['images']} images peak RSS {few['peak_mib']:.0f} MiB, "
                f"{lots['images']} images {lots['peak_mib']:.0f} MiB (×{lots['peak_mib'] / few['peak_mib']:.2f})"
            )
        if a.video:
            v = video_batch(factory, tmp, a.jobs)
            results["video"] = v
            share = 1 - v["off"]["cpu"] / v["warn"]["cpu"]
            print(
                f"video batch (24 × 5 s TikTok): CPU gate on {v['warn']['cpu']:.1f} s, off {v['off']['cpu']:.1f} s; "
                f"gate's share {share * 100:.1f} %"
            )
        if a.json_out:
            Path(a.json_out).write_text(json.dumps(results, indent=2))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
