"""Draws bench.png from latest.json (bench/report.py): each workload's rate
through the server beside its anchor's, and the server's latency; and, when
the run had open-loop workloads, open-loop.png: latency against offered load.

    python bench/chart.py RESULTS/latest.json RESULTS
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results_path: str, charts_dir: str) -> None:
    with open(results_path) as f:
        results = json.load(f)
    if any("anchor" in r for r in results["workloads"]):
        closed_loop(results, f"{charts_dir}/bench.png")
    if results.get("open_loop"):
        open_loop(results, f"{charts_dir}/open-loop.png")


def open_loop(results: dict, chart_path: str) -> None:
    """The hockey stick: p50, p99 and p99.9 against the offered rate, as a
    share of the closed-loop rate, one panel per workload."""
    workloads = results["open_loop"]
    fig, axes = plt.subplots(1, len(workloads), figsize=(6.5 * len(workloads), 4.8), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        shares = [p["share"] for p in w["points"]]
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p99_9_ms", "p99.9")):
            ax.plot(shares, [max(p[key], 0.01) for p in w["points"]], marker="o", label=label)
        ax.axhline(10, color="grey", linestyle=":", label="p99 goal at 80%: 10 ms")
        ax.axhline(50, color="grey", linestyle="--", label="p99.9 goal at 80%: 50 ms")
        ax.axvline(100, color="black", linewidth=0.5)
        # Latency spans from under a millisecond to seconds past the bend.
        ax.set_yscale("log")
        ax.set_xlabel(f'offered load, % of the closed-loop rate ({w["closed_loop_rate"]:,}/s)')
        ax.set_ylabel("ms, corrected for coordinated omission")
        ax.set_title(w["name"])
        ax.legend(fontsize=8)
    fig.suptitle(f'{results["machine"]}\n{results["configuration"]}', fontsize=7)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)


def closed_loop(results: dict, chart_path: str) -> None:
    rows = [r for r in results["workloads"] if "anchor" in r]
    # These rows share the server's measurement with another row (hot, read).
    timed = [r for r in rows if r["name"] not in ("hot-naive", "ceiling")]

    fig, (throughput, latency) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.38
    x = range(len(rows))
    throughput.bar([i - width / 2 for i in x], [r["server"] for r in rows], width, label="server (HTTP)")
    throughput.bar([i + width / 2 for i in x], [r["anchor_rate"] for r in rows], width,
                   label="anchor (pgbench -M prepared; nginx for the ceiling)")
    for i, r in enumerate(rows):
        throughput.annotate(f'{r["ratio"]:.2f}x', (i, max(r["server"], r["anchor_rate"])), ha="center", va="bottom")
    throughput.set_xticks(list(x), [r["name"] for r in rows], rotation=20)
    # Rates span from about a thousand (one hot row) to over a hundred thousand.
    throughput.set_yscale("log")
    throughput.set_ylabel("successful requests / s")
    throughput.set_title("Throughput")
    throughput.legend(fontsize=8)

    x = range(len(timed))
    latency.bar([i - width / 2 for i in x], [r["p50_ms"] for r in timed], width, label="p50")
    latency.bar([i + width / 2 for i in x], [r["p99_ms"] for r in timed], width, label="p99")
    latency.set_xticks(list(x), [r["name"] for r in timed], rotation=20)
    # Keyed purchases can be a hundred times slower than the rest.
    latency.set_yscale("log")
    latency.set_ylabel("ms")
    latency.set_title("Server latency")
    latency.legend()

    fig.suptitle(results["machine"], fontsize=8)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
