#!/usr/bin/env python3
"""Reads one JSON object per line (lockstep bench / llamacpp_bench.py), takes the median per
backend, prints a markdown table with ratios to llama.cpp, writes the raw runs to JSON and a
bar plot to SVG (plain SVG text: no plotting library needed)."""
import json, statistics, sys

runs = [json.loads(line) for line in sys.stdin if line.strip()]
json.dump(runs, open(sys.argv[1], "w"), indent=1)
by = {}
for r in runs:
    by.setdefault(r["backend"], []).append(r)
med = {b: {k: statistics.median(x[k] for x in rs) for k in ("prefill_tokens_per_second", "decode_tokens_per_second", "peak_rss_mb")}
       for b, rs in by.items()}
peer = med.get("llama.cpp")
print("| backend | prefill tok/s | × llama.cpp | decode tok/s | × llama.cpp | peak RSS MB |")
print("|---|---|---|---|---|---|")
for b, m in med.items():
    rp = f"{m['prefill_tokens_per_second'] / peer['prefill_tokens_per_second']:.2f}" if peer else "—"
    rd = f"{m['decode_tokens_per_second'] / peer['decode_tokens_per_second']:.2f}" if peer else "—"
    print(f"| {b} | {m['prefill_tokens_per_second']:.1f} | {rp} | {m['decode_tokens_per_second']:.1f} | {rd} | {m['peak_rss_mb']:.0f} |")
# Bar plot: decode and prefill tok/s per backend.
names = list(med)
w, h, bar = 640, 60 + 60 * len(names), 22
top = max(max(m["prefill_tokens_per_second"], m["decode_tokens_per_second"]) for m in med.values())
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">tokens/s, median of {len(runs) // max(len(names), 1)} runs (blue: decode, orange: prefill 128)</text>']
for i, b in enumerate(names):
    y = 40 + 60 * i
    svg.append(f'<text x="10" y="{y + 26}">{b}</text>')
    for j, (key, colour) in enumerate((("decode_tokens_per_second", "#4477aa"), ("prefill_tokens_per_second", "#ee7733"))):
        v = med[b][key]
        length = 440 * v / top
        svg.append(f'<rect x="110" y="{y + j * bar}" width="{length:.1f}" height="{bar - 4}" fill="{colour}"/>')
        svg.append(f'<text x="{115 + length:.1f}" y="{y + j * bar + 13}">{v:.1f}</text>')
svg.append("</svg>")
open(sys.argv[2], "w").write("\n".join(svg))
