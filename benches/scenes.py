#!/usr/bin/env python3
"""The motion benchmark: one 15 s 1080×1920 variant with three scenes, Ken Burns, an animated
product, a badge and captions (benches/scenes.toml), rendered end to end by `factory render`,
against x264 encoding the same frames at the same settings (libx264 High, veryfast, crf 23,
gop 60, yuv420p) from raw YUV in memory-cached files — i.e. the encode alone.

Runs are interleaved (factory, x264, factory, x264, …) so load on the shared machine hits both
alike; the ratio of medians is reported. Python 3.11 standard library only.

    python3 benches/scenes.py [--runs 3] [--json-out FILE]
"""
import argparse, json, os, resource, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, **kw):
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - t0, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    factory = os.path.join(target, "release", "factory")
    if not os.path.exists(factory):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="scenes-bench-")
    try:
        exe = os.path.join(work, "factory")
        shutil.copy2(factory, exe)
        tpl = os.path.join(ROOT, "benches", "scenes.toml")
        out = os.path.join(work, "out")
        fac_cmd = [exe, "render", tpl, "--out", out, "--jobs", "1", "--progress", "plain"]
        # One render first: its frames are what x264 encodes alone.
        subprocess.run(fac_cmd, check=True, stdout=subprocess.DEVNULL)
        mp4 = os.path.join(out, "US", "US_TikTok_15s_Video_v1.mp4")
        yuv = os.path.join(work, "frames.yuv")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", mp4, "-f", "rawvideo", "-pix_fmt", "yuv420p", yuv], check=True)
        frames = os.path.getsize(yuv) // (1080 * 1920 * 3 // 2)
        x264_cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1080x1920", "-r", "30", "-i", yuv,
                    "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", "23", "-g", "60", "-pix_fmt", "yuv420p",
                    "-an", os.path.join(work, "x264.mp4")]
        subprocess.run(["cat", yuv], check=True, stdout=subprocess.DEVNULL)  # warm the page cache
        fac, enc = [], []
        for _ in range(args.runs):
            shutil.rmtree(out, ignore_errors=True)
            fac.append(timed(fac_cmd))
            enc.append(timed(x264_cmd))
        fw = statistics.median(w for w, _ in fac)
        ew = statistics.median(w for w, _ in enc)
        fc = statistics.median(c for _, c in fac)
        ec = statistics.median(c for _, c in enc)
        res = {
            "frames": frames,
            "factory_wall_s": [round(w, 2) for w, _ in fac],
            "factory_cpu_s": [round(c, 2) for _, c in fac],
            "x264_wall_s": [round(w, 2) for w, _ in enc],
            "x264_cpu_s": [round(c, 2) for _, c in enc],
            "ratio_wall_median": round(fw / ew, 3),
            "ratio_cpu_median": round(fc / ec, 3),
            "cores": os.cpu_count(),
        }
        print(json.dumps(res, indent=2))
        print(f"factory end to end / x264 encode alone: wall {fw:.1f} s / {ew:.1f} s = {fw / ew:.2f}×, "
              f"CPU {fc:.1f} s / {ec:.1f} s = {fc / ec:.2f}× ({frames} frames)")
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(res, f, indent=2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
