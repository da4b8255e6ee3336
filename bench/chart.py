"""Draws bench/results/bench.png from bench/results/latest.json."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results_path: str, chart_path: str) -> None:
    with open(results_path) as f:
        results = json.load(f)
    rows = [r for r in results["workloads"] if r.get("baseline")]
    names = [r["name"] for r in rows]
    x = range(len(rows))

    fig, (throughput, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.38
    throughput.bar([i - width / 2 for i in x], [r["server"] for r in rows], width, label="server (HTTP)")
    throughput.bar([i + width / 2 for i in x], [r["baseline"] for r in rows], width, label="pgbench baseline (SQL)")
    for i, r in enumerate(rows):
        throughput.annotate(f'{r["ratio"]:.1f}x', (i, max(r["server"], r["baseline"])), ha="center", va="bottom")
    throughput.set_xticks(list(x), names)
    throughput.set_ylabel("successful requests / s")
    throughput.set_title("Throughput, 64 connections")
    throughput.legend()

    latency.bar([i - width / 2 for i in x], [r["p50_ms"] for r in rows], width, label="p50")
    latency.bar([i + width / 2 for i in x], [r["p99_ms"] for r in rows], width, label="p99")
    latency.set_xticks(list(x), names)
    latency.set_ylabel("ms")
    latency.set_title("Server latency")
    latency.legend()

    fig.suptitle(results["machine"], fontsize=8)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
