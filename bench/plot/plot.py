#!/usr/bin/env python3
"""Draws the plots of a `ronto-bench` results directory as SVG.

    python3 bench/plot/plot.py target/bench-results docs/bench

Per suite with `.hgrm` files (storage, kernels, query, peers, ...), `<suite>-latency.svg`: the
latency percentile distribution of every case, in the style of HdrHistogram's plotter: the
x axis is 1/(1-percentile) on a log scale, labelled 50%, 90%, 99%, 99.9%, ..., so each
"nine" gets the same width; the y axis is the latency (log scale). Cases are split into
panels (kernels by row count, query by database, peers by query, storage by case family).

From `peers.json` (written by `ronto-bench peers`), `peers-ratios.svg`: per query, how many
times faster Ronto's median is than each peer's (peer p50 / Ronto p50; above 1 = Ronto faster),
with issue 3's 5x target drawn in.

From `kernels.json` (written by `ronto-bench kernels`), `kernels-bandwidth.svg`: each kernel's
rate at the median as a percentage of the one-thread memory bandwidth measured in the same
run, with issue 6's 50% target.

matplotlib comes from the benchmark virtual environment (`target/bench-venv`, or
`$RONTO_BENCH_VENV`; it is in bench/peers/requirements.txt, which `ronto-bench peers` installs).
Started with a python3 that lacks it, the script re-runs itself with that environment's
interpreter if there is one; if matplotlib is nowhere, it prints a line starting with `SKIP:`
and exits 0, so that nothing that calls it fails for want of plots.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NINES = [(2, "50%"), (10, "90%"), (100, "99%"), (1e3, "99.9%"), (1e4, "99.99%"),
         (1e5, "99.999%"), (1e6, "99.9999%"), (1e7, "99.99999%")]


def venv_python():
    venv = os.environ.get("RONTO_BENCH_VENV") or os.path.join(ROOT, "target", "bench-venv")
    return os.path.join(venv, "bin", "python")


def import_matplotlib():
    """Returns pyplot, re-executing under the bench venv or exiting with SKIP if needed."""
    try:
        import matplotlib
    except ImportError:
        py = venv_python()
        venv = os.path.dirname(os.path.dirname(py))
        # The venv's python is a symlink to the base interpreter; sys.prefix tells them apart.
        if os.path.exists(py) and os.path.realpath(sys.prefix) != os.path.realpath(venv) \
                and not os.environ.get("RONTO_PLOT_REEXEC"):
            os.environ["RONTO_PLOT_REEXEC"] = "1"
            os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])
        print("SKIP: matplotlib is not installed (run `ronto-bench peers --quick` once to "
              "create %s, or pip install -r bench/peers/requirements.txt)" % os.path.dirname(
                  os.path.dirname(py)), file=sys.stderr)
        sys.exit(0)
    matplotlib.use("svg")
    # Text as text (smaller files, greppable) and no timestamps or random ids: the same
    # results give byte-identical SVGs, so committed plots change only when the numbers do.
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "ronto"
    import matplotlib.pyplot as plt
    return plt


def read_hgrm(path):
    """(x = 1/(1-p), value in µs) pairs of a percentile-distribution file; the 100% line has no
    x and is dropped, as HdrHistogram's plotter does. Also returns the max and the count."""
    points, max_us, count = [], None, None
    with open(path) as f:
        for line in f:
            m = re.match(r"#\[Max\s*=\s*([\d.]+),\s*Total count\s*=\s*(\d+)", line)
            if m:
                max_us, count = float(m.group(1)), int(m.group(2))
                continue
            parts = line.split()
            if len(parts) != 4 or line.lstrip().startswith(("Value", "#")):
                continue
            value, pct, _, inverse = parts
            if float(pct) < 1.0:
                points.append((float(inverse), float(value)))
    return points, max_us, count


def panel_of(suite, case):
    """(panel title, curve label) for the case id `case` (the .hgrm name without the suite)."""
    if suite == "kernels":
        kernel, _, size = case.rpartition("-")
        return "%s rows" % size, kernel
    if suite == "query":
        m = re.match(r"(\dshard(?:-cold)?)-(.+)", case)
        if m:
            return m.group(1).replace("shard", " shard(s)"), m.group(2)
    if suite == "peers":
        m = re.match(r"(ronto|[a-z]+-\d+thread)-(.+)", case)
        if m:
            return m.group(2), m.group(1)
    if suite == "storage":
        m = re.match(r"append-(\d+rows)-(.+)", case)
        if m:
            return "append, %s per batch" % m.group(1).replace("rows", " rows"), m.group(2)
        family, _, rest = case.partition("-")
        return family, rest or family
    return suite, case


def nines_axis(ax, max_x):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [(x, label) for x, label in NINES if x <= max(max_x, 10) * 1.01]
    ax.set_xticks([x for x, _ in ticks])
    ax.set_xticklabels([label for _, label in ticks], fontsize=7)
    ax.minorticks_off()
    ax.set_xlim(1, max(max_x, 10))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_xlabel("percentile", fontsize=8)
    ax.set_ylabel("latency (µs)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)


def plot_latency(plt, results, out, suite, files):
    panels = {}
    for name in sorted(files):
        case = name[len(suite) + 1:]
        if case == "membw" or case.endswith("-membw"):
            continue  # the bandwidth baseline is a few passes, not a latency distribution
        panel, label = panel_of(suite, case)
        panels.setdefault(panel, []).append((label, name))
    if not panels:
        return None
    n = len(panels)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.6 * rows), squeeze=False)
    for ax, (panel, curves) in zip(axes.flat, sorted(panels.items())):
        max_x = 10
        for label, name in curves:
            points, _, _ = read_hgrm(os.path.join(results, name + ".hgrm"))
            if not points:
                continue
            xs, ys = zip(*points)
            max_x = max(max_x, xs[-1])
            ax.plot(xs, [max(y, 1e-3) for y in ys], label=label, linewidth=1.1)
        nines_axis(ax, max_x)
        ax.set_title(panel, fontsize=9)
        ax.legend(fontsize=6, loc="upper left", ncol=1 if len(curves) <= 8 else 2)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("ronto-bench %s: latency by percentile (HdrHistogram, %s)"
                 % (suite, os.path.basename(os.path.abspath(results))), fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "%s-latency.svg" % suite)
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    return path


def load_json(results, suite):
    path = os.path.join(results, suite + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def plot_peer_ratios(plt, results, out):
    doc = load_json(results, "peers")
    if doc is None:
        return None
    queries, series = [], {}
    for row in doc["rows"]:
        hgrm, lat = row.get("hgrm") or "", row.get("latency_ns")
        if not lat or not hgrm.startswith("peers-"):
            continue
        group = row["group"]
        if group not in queries:
            queries.append(group)
        series.setdefault(row["case"] if not hgrm.startswith("peers-ronto-") else "ronto",
                          {})[group] = lat["p50"]
    ronto = series.pop("ronto", {})
    queries = [q for q in queries if q in ronto]
    if not queries or not series:
        return None
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(series)
    for i, (label, p50s) in enumerate(sorted(series.items())):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(queries))]
        ys = [p50s.get(q, 0) / ronto[q] for q in queries]
        bars = ax.bar(xs, ys, width, label=label)
        for b, y in zip(bars, ys):
            if y > 0:
                ax.annotate("%.1f×" % y if y >= 1 else "%.2f×" % y,
                            (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom",
                            fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.axhline(5, color="red", linewidth=0.8, linestyle="--", label="5× target (issue 3)")
    ax.set_xticks(range(len(queries)))
    ax.set_xticklabels([q if len(q) < 28 else q[:26] + "…" for q in queries], fontsize=7,
                       rotation=15, ha="right")
    ax.set_ylabel("peer p50 / Ronto p50 (above 1: Ronto faster)", fontsize=8)
    ax.set_title("Ronto in-process (1 thread) against chDB and DuckDB: speedup at the median"
                 + (" (--quick)" if doc.get("quick") else ""), fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out, "peers-ratios.svg")
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    return path


Y_TOP_PCT = 450


def plot_kernel_bandwidth(plt, results, out):
    doc = load_json(results, "kernels")
    if doc is None:
        return None
    bandwidth = None
    for row in doc["rows"]:
        m = re.search(r"\*\*([\d.]+) GB/s\*\* at the median pass", row.get("notes", ""))
        if m:
            bandwidth = float(m.group(1))
    if bandwidth is None:
        return None
    sizes = {}
    for row in doc["rows"]:
        hgrm = row.get("hgrm") or ""
        m = re.search(r"\*\*([\d.]+) GB/s\*\*", row.get("notes", ""))
        if not hgrm.startswith("kernels-") or hgrm.endswith("membw") or not m:
            continue
        kernel, _, size = hgrm[len("kernels-"):].rpartition("-")
        sizes.setdefault(size, {})[kernel] = 100 * float(m.group(1)) / bandwidth
    if not sizes:
        return None
    kernels = list(next(iter(sizes.values())).keys())
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / len(sizes)
    for i, (size, pcts) in enumerate(sizes.items()):
        xs = [j + (i - (len(sizes) - 1) / 2) * width for j in range(len(kernels))]
        ys = [pcts.get(k, 0) for k in kernels]
        bars = ax.bar(xs, ys, width, label="%s rows" % size)
        for b, y in zip(bars, ys):
            # Bars past the top (run detection skips most rows) are cut, their value printed.
            ax.annotate("%.0f%%" % y, (b.get_x() + b.get_width() / 2, min(y, Y_TOP_PCT)),
                        ha="center", va="bottom", fontsize=6, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_ylim(0, Y_TOP_PCT * 1.08)
    ax.axhline(50, color="red", linewidth=0.8, linestyle="--", label="50% target (issue 6)")
    ax.axhline(100, color="black", linewidth=0.6)
    ax.set_xticks(range(len(kernels)))
    ax.set_xticklabels(kernels, fontsize=7, rotation=20, ha="right")
    ax.set_ylabel("% of 1-thread memory bandwidth at p50", fontsize=8)
    ax.set_title("Kernels: bytes moved per second at the median call, against the %.1f GB/s "
                 "streaming-read baseline of the same run%s"
                 % (bandwidth, " (--quick)" if doc.get("quick") else ""), fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out, "kernels-bandwidth.svg")
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    return path


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print("usage: plot.py RESULTS_DIR OUT_DIR", file=sys.stderr)
        return 2
    results, out = argv[1], argv[2]
    if not os.path.isdir(results):
        print("plot.py: no results directory %s" % results, file=sys.stderr)
        return 1
    plt = import_matplotlib()
    os.makedirs(out, exist_ok=True)
    by_suite = {}
    for f in os.listdir(results):
        if f.endswith(".hgrm"):
            name = f[:-len(".hgrm")]
            by_suite.setdefault(name.split("-", 1)[0], []).append(name)
    written = [plot_latency(plt, results, out, s, files) for s, files in sorted(by_suite.items())]
    written += [plot_peer_ratios(plt, results, out), plot_kernel_bandwidth(plt, results, out)]
    for path in filter(None, written):
        print("wrote " + path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
