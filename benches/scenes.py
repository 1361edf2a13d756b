#!/usr/bin/env python3
"""The motion benchmark: one 15 s 1080×1920 variant with three scenes, Ken Burns, an animated
product, a badge and captions (benches/scenes.toml), rendered end to end by `factory render`,
against x264 encoding the same frames at the same settings (libx264 High, veryfast, crf 23,
gop 60, yuv420p) from raw YUV in memory-cached files — i.e. the encode alone.

Runs are interleaved (factory, x264, factory, x264, …) so load on the shared machine hits both
alike; the ratio of medians is reported. Python 3.11 standard library only.

`--batch` (issue #14, scenes encoded once): the 8 variants of benches/scenes_batch.toml (the
same three scenes in 4 orders × 2 captions for one scene), rendered by `factory render
--jobs 2` with stitching (the default) and with `--no-stitch`, against x264 encoding all of
the batch's frames alone: x264 times one variant's frames (as above) and the batch's figure
is that × the number of variants, since every variant has as many frames at the same
settings. Interleaved the same way: stitched, whole, x264, stitched, …

    python3 benches/scenes.py [--runs 3] [--json-out FILE]
    python3 benches/scenes.py --batch [--runs 1] [--json-out FILE]
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
    ap.add_argument("--batch", action="store_true")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    factory = os.path.join(target, "release", "factory")
    if not os.path.exists(factory):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="scenes-bench-")
    try:
        exe = os.path.join(work, "factory")
        shutil.copy2(factory, exe)
        if args.batch:
            return batch(exe, work, args)
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


def x264_cmd_for(yuv, out):
    return ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1080x1920", "-r", "30", "-i", yuv,
            "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", "23", "-g", "60", "-pix_fmt", "yuv420p",
            "-an", out]


def batch(exe, work, args):
    tpl = os.path.join(ROOT, "benches", "scenes_batch.toml")
    out_s, out_f = os.path.join(work, "stitched"), os.path.join(work, "whole")
    base = [exe, "render", tpl, "--jobs", "2", "--progress", "plain"]
    stitched_cmd = base + ["--out", out_s]
    whole_cmd = base + ["--out", out_f, "--no-stitch"]
    # One whole render first: its first variant's frames are what x264 encodes alone.
    subprocess.run(whole_cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_f, "manifest.json")) as f:
        rows = json.load(f)["outputs"]
    variants = len(rows)
    mp4 = os.path.join(out_f, rows[0]["file"])
    yuv = os.path.join(work, "frames.yuv")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", mp4, "-f", "rawvideo", "-pix_fmt", "yuv420p", yuv], check=True)
    frames = os.path.getsize(yuv) // (1080 * 1920 * 3 // 2)
    x264_cmd = x264_cmd_for(yuv, os.path.join(work, "x264.mp4"))
    subprocess.run(["cat", yuv], check=True, stdout=subprocess.DEVNULL)  # warm the page cache
    st, wh, enc = [], [], []
    for _ in range(args.runs):
        for d in (out_s, out_f):
            shutil.rmtree(d, ignore_errors=True)
        st.append(timed(stitched_cmd))
        wh.append(timed(whole_cmd))
        enc.append(timed(x264_cmd))
    with open(os.path.join(out_s, "manifest.json")) as f:
        srows = json.load(f)["outputs"]
    stitched = sum(1 for r in srows if r.get("encode") == "stitched")
    reused = sum(r.get("frames_reused", 0) for r in srows)
    # Quality: each stitched output against its full encode, frame by frame (FFmpeg's psnr
    # filter, the average over Y, U and V), the lowest frame of each output.
    psnr_min = []
    for r in srows:
        stats = os.path.join(work, "psnr.log")
        subprocess.run(["ffmpeg", "-v", "error", "-i", os.path.join(out_s, r["file"]), "-i", os.path.join(out_f, r["file"]),
                        "-lavfi", f"psnr=stats_file={stats}", "-f", "null", "-"], check=True)
        with open(stats) as f:
            vals = [float(tok.split(":")[1]) for line in f for tok in line.split() if tok.startswith("psnr_avg:")]
        psnr_min.append(round(min(vals), 2))
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    sw, ww, ew = med(st, 0), med(wh, 0), med(enc, 0) * variants
    sc, wc, ec = med(st, 1), med(wh, 1), med(enc, 1) * variants
    res = {
        "variants": variants,
        "frames_per_variant": frames,
        "stitched_outputs": stitched,
        "frames_reused": reused,
        "stitched_wall_s": [round(w, 2) for w, _ in st],
        "stitched_cpu_s": [round(c, 2) for _, c in st],
        "whole_wall_s": [round(w, 2) for w, _ in wh],
        "whole_cpu_s": [round(c, 2) for _, c in wh],
        "x264_one_variant_wall_s": [round(w, 2) for w, _ in enc],
        "x264_one_variant_cpu_s": [round(c, 2) for _, c in enc],
        "ratio_stitched_to_x264_all_wall": round(sw / ew, 3),
        "ratio_stitched_to_x264_all_cpu": round(sc / ec, 3),
        "ratio_whole_to_x264_all_wall": round(ww / ew, 3),
        "ratio_whole_to_x264_all_cpu": round(wc / ec, 3),
        "psnr_min_db_per_output": psnr_min,
        "cores": os.cpu_count(),
    }
    print(json.dumps(res, indent=2))
    print(f"{variants} variants × {frames} frames; x264 alone on all of them: wall {ew:.1f} s, CPU {ec:.1f} s")
    print(f"  factory, stitched ({stitched} outputs, {reused} frames reused): wall {sw:.1f} s = {sw / ew:.2f}×, CPU {sc:.1f} s = {sc / ec:.2f}×")
    print(f"  factory, --no-stitch: wall {ww:.1f} s = {ww / ew:.2f}×, CPU {wc:.1f} s = {wc / ec:.2f}×")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
