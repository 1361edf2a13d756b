#!/usr/bin/env python3
"""The review page of a 1,000-output batch: HTML size and the time `factory report` takes.

Renders templates/gate-demo.toml (4 stills) once, then writes a manifest of N rows made from
its rows (new names, variant numbers and ids; every row's file is a real copy of an output,
so the page links files that exist and all thumbnails are real). Times `factory report` on
the 4-output batch (baseline) and the N-output one in the same run; prints sizes and ratios.

    python3 benches/report_page.py [--factory target/release/factory] [--outputs 1000]
"""
import argparse, json, os, shutil, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--factory", default="target/release/factory")
ap.add_argument("--outputs", type=int, default=1000)
a = ap.parse_args()

def report(out):
    best = None
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([a.factory, "report", out], check=True, capture_output=True)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, os.path.getsize(os.path.join(out, "report.html"))

with tempfile.TemporaryDirectory() as d:
    small = os.path.join(d, "small")
    subprocess.run([a.factory, "render", "templates/gate-demo.toml", "--out", small,
                    "--progress", "plain"], check=True, capture_output=True)
    big = os.path.join(d, "big")
    shutil.copytree(small, big)
    m = json.load(open(os.path.join(big, "manifest.json")))
    base = m["outputs"]
    rows = []
    for i in range(a.outputs):
        r = dict(base[i % len(base)])
        n = i + 1
        r["variant"] = n
        r["variant_id"] = f"{n:016x}"
        src = r["file"]
        region, name = src.split("/")
        r["file"] = f"{region}/bench_{n:04d}_{name}"
        r["modules"] = dict(r["modules"], subtitle=f"line-{n % 40}", background=f"bg-{n % 25}")
        if r["status"] == "exported":
            shutil.copyfile(os.path.join(small, src), os.path.join(big, r["file"]))
        rows.append(r)
    m["outputs"] = rows
    json.dump(m, open(os.path.join(big, "manifest.json"), "w"))
    t_small, s_small = report(small)
    t_big, s_big = report(big)
    print(f"{len(base)} outputs: page {s_small/1024:.0f} kB, report {t_small*1000:.0f} ms")
    print(f"{a.outputs} outputs: page {s_big/1024:.0f} kB ({s_big/a.outputs:.0f} B per output), "
          f"report {t_big*1000:.0f} ms")
    print(f"ratio: size ×{s_big/s_small:.1f}, time ×{t_big/t_small:.1f} for ×{a.outputs/len(base):.0f} outputs")
