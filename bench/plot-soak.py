#!/usr/bin/env python3
"""Draws a soak CSV (from Agentry.Bench --soak-csv) as a PNG: p99 and p50 latency and RSS per 10-second window.
Usage: plot-soak.py SOAK.csv OUT.png   (renders an SVG with Debian's headless chromium; no Python packages needed)"""
import csv, os, subprocess, sys, tempfile

source, target = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(source)))
t = [float(r["second"]) for r in rows]
p99 = [float(r["p99_ms"]) for r in rows]
p50 = [float(r["p50_ms"]) for r in rows]
rss = [float(r["rss_mb"]) for r in rows]
W, H, L, R, T, B = 900, 460, 70, 70, 40, 50
cap = sorted(p99)[int(len(p99) * 0.9)] * 1.5 or 1  # cold-start windows are clipped (and labelled) so the steady state is readable
x = lambda s: L + (s - t[0]) / max(1, t[-1] - t[0]) * (W - L - R)
y = lambda ms: T + (1 - min(ms, cap) / cap) * (H - T - B)
rmax = max(rss) * 1.1
yr = lambda mb: T + (1 - mb / rmax) * (H - T - B)
line = lambda xs, ys, f, colour: '<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colour, " ".join("%.1f,%.1f" % (x(a), f(b)) for a, b in zip(xs, ys)))
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="22" font-size="14">Agentry soak: %s (%d windows of 10 s; latency clipped at %.0f ms)</text>' % (L, os.path.basename(source), len(rows), cap),
       line(t, p99, y, "#c0392b"), line(t, p50, y, "#e67e22"), line(t, rss, yr, "#2980b9"),
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B)]
for i in range(5):
    v = cap * i / 4
    svg.append('<text x="%d" y="%.1f" text-anchor="end">%.0f ms</text>' % (L - 6, y(v) + 4, v))
    svg.append('<text x="%d" y="%.1f">%.0f MB</text>' % (W - R + 6, yr(rmax * i / 4) + 4, rmax * i / 4))
for s in range(0, int(t[-1]) + 1, 60):
    if s >= t[0]: svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d s</text>' % (x(s), H - B + 18, s))
svg.append('<text x="%d" y="%d" fill="#c0392b">p99</text><text x="%d" y="%d" fill="#e67e22">p50</text><text x="%d" y="%d" fill="#2980b9">RSS</text>' % (L + 10, H - 12, L + 50, H - 12, L + 90, H - 12))
svg.append('</svg>')
with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as f:
    f.write("\n".join(svg))
subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--screenshot=" + os.path.abspath(target),
                "--window-size=%d,%d" % (W, H), "file://" + f.name], check=True, capture_output=True)
os.unlink(f.name)
print("wrote", target)
