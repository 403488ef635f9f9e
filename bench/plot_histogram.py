#!/usr/bin/env python3
"""bench/plot_histogram.py: plots rappel-load's --histogram file as latency
percentile curves (the HdrHistogram plotter's view: latency against
percentile on a 1/(1-p) axis, so the tail is readable), one curve per
phase and latency, with gnuplot. Prints each curve's count, p50, p99 and
max (the bucket's upper bound: within 1.6 %).

    bench/plot_histogram.py run.csv                # writes run.png
    bench/plot_histogram.py run.csv --out tail.png --phase ingest

Python 3 standard library and gnuplot (gnuplot-nox) only.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile


def read(path):
    """{(phase, latency): [(lo_us, hi_us, count)]} in bucket order."""
    curves = {}
    with open(path, newline="") as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        header = next(rows, None)
        if header != ["phase", "latency", "lo_us", "hi_us", "count"]:
            sys.exit(f"plot_histogram: {path}: not a rappel-load --histogram file")
        for phase, latency, lo, hi, count in rows:
            curves.setdefault((phase, latency), []).append((int(lo), int(hi), int(count)))
    for buckets in curves.values():
        buckets.sort()
    return curves


def percentiles(buckets):
    """[(percentile, latency_ms)] at each bucket's upper bound."""
    total = sum(c for _, _, c in buckets)
    points, seen = [], 0
    for _, hi, c in buckets:
        seen += c
        points.append((seen / total, hi / 1000))
    return total, points


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("histogram", help="rappel-load --histogram FILE")
    ap.add_argument("--out", help="PNG to write (default: FILE with .png)")
    ap.add_argument("--phase", help="only this phase")
    args = ap.parse_args()
    curves = read(args.histogram)
    if args.phase:
        curves = {k: v for k, v in curves.items() if k[0] == args.phase}
    if not curves:
        sys.exit("plot_histogram: no histogram to plot")
    out = args.out or os.path.splitext(args.histogram)[0] + ".png"
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        for i, ((phase, latency), buckets) in enumerate(sorted(curves.items())):
            total, points = percentiles(buckets)
            def at(q):
                return next(ms for p, ms in points if p >= q)
            print(f"{phase:12} {latency:10} count {total:9}  p50 {at(0.5):10.3f} ms"
                  f"  p99 {at(0.99):10.3f} ms  max {points[-1][1]:10.3f} ms")
            dat = os.path.join(tmp, f"{i}.dat")
            with open(dat, "w") as f:
                for p, ms in points:
                    # 1/(1-p): 10 is p90, 100 p99; the last point (p = 1) at 10x the rest.
                    x = 1 / (1 - p) if p < 1 else 10 * max(1 / (1 - q) for q, _ in points[:-1] or [(0, 0)])
                    f.write(f"{x} {ms}\n")
            plots.append(f'"{dat}" using 1:2 with steps lw 2 title "{phase} {latency}"')
        if not shutil.which("gnuplot"):
            sys.exit("plot_histogram: gnuplot not found (apt-get install gnuplot-nox)")
        script = f"""set terminal pngcairo size 900,480 font ",10"
set output "{out}"
set title "rappel-load latency by percentile ({os.path.basename(args.histogram)})"
set xlabel "percentile"
set ylabel "latency (ms)"
set logscale x
set xtics ("50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)
set grid
set key top left
plot {", ".join(plots)}
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            sys.exit(f"plot_histogram: gnuplot failed: {r.stderr[-500:]}")
    print(f"plot_histogram: wrote {out}")


if __name__ == "__main__":
    main()
