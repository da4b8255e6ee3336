"""Joins the benchmark's measurements into one table (stdout, latest.md) and
latest.json. Exits 1 if an accounting check failed."""

import json
import sys

GOALS = {"hot": 5.0, "spread": 1.0, "read": 0.4}
LABELS = {
    "hot": "purchases, 1 hot ticket",
    "spread": "purchases over 1,000 tickets",
    "read": "GET /tickets/{id} over 1,000",
}


def main(results_dir: str, machine: str) -> int:
    with open(f"{results_dir}/measurements.json") as f:
        m = json.load(f)
    rows, workloads = [], []
    for name in ("hot", "spread", "read"):
        server, baseline = m[name]["server"], m[name]["baseline"]
        ratio = server["rate"] / baseline["tps"] if baseline["tps"] else 0.0
        ok = ratio >= GOALS[name] and (name != "hot" or server["p99_ms"] < 20)
        workloads.append({"name": name, "server": server["rate"], "baseline": baseline["tps"], "ratio": ratio,
                          "p50_ms": server["p50_ms"], "p99_ms": server["p99_ms"], "goal": GOALS[name],
                          "accounting": m[name]["accounting"], "meets_goal": ok})
        goal = f">= {GOALS[name]}x" + (", p99 < 20 ms" if name == "hot" else "")
        rows.append([LABELS[name], f'{server["rate"]:,.0f}/s', f'{baseline["tps"]:,.0f}/s', f"{ratio:.2f}x",
                     goal, f'{server["p50_ms"]:.2f} / {server["p99_ms"]:.2f}', m[name]["accounting"],
                     "yes" if ok else "NO"])
    rss = m["memory"]["peak_rss_mib"]
    rows.append(["peak RSS, 256 connections", f"{rss:.1f} MiB", "", "", "< 64 MiB", "", m["memory"]["accounting"],
                 "yes" if rss < 64 else "NO"])
    header = ["workload", "server", "pgbench baseline", "ratio", "goal", "p50 / p99 ms", "accounting", "meets goal"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    text = f"Machine: {machine}\n\n{table}\n"
    print(text)
    with open(f"{results_dir}/latest.md", "w") as f:
        f.write(text)
    with open(f"{results_dir}/latest.json", "w") as f:
        json.dump({"machine": machine, "workloads": workloads, "peak_rss_mib": rss}, f, indent=2)
    accounting_ok = all(w["accounting"] == "PASS" for w in workloads) and m["memory"]["accounting"] == "PASS"
    return 0 if accounting_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
