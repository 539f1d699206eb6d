#!/usr/bin/env python3
"""Switchyard proxy benchmark: turns raw wrk outputs into the Markdown report.

Usage: report.py RESULTS_DIR TARGET...

RESULTS_DIR holds one file per measured run, named TARGET.ROUND.txt, each the
output of `wrk --latency`. Prints the median requests/s, p50 and p99 per target
across rounds, the per-round requests/s, the Switchyard ratios and any errors wrk saw.
"""

import re
import statistics
import sys
from pathlib import Path

LABELS = {
    "direct": "direct (backend 1)",
    "switchyard": "Switchyard",
    "nginx": "nginx",
    "haproxy": "HAProxy",
}

# wrk prints durations with these units (see format_time in wrk's units.c).
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

RPS_RE = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.M)
PCT_RE = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)(us|ms|s|m|h)\s*$", re.M)
NON2XX_RE = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.M)
SOCKET_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


class ParseError(Exception):
    pass


def parse_wrk(text, name):
    """Returns {rps, p50, p99 (ms), non2xx, socket} from one `wrk --latency` output."""
    m = RPS_RE.search(text)
    if not m:
        raise ParseError(f"{name}: no 'Requests/sec:' line in wrk output")
    percentiles = {}
    for pct, value, unit in PCT_RE.findall(text):
        percentiles[float(pct)] = float(value) * UNIT_MS[unit]
    for p in (50.0, 99.0):
        if p not in percentiles:
            raise ParseError(f"{name}: no {p:g}% line in wrk output (was --latency given?)")
    non2xx = NON2XX_RE.search(text)
    sock = SOCKET_RE.search(text)
    return {
        "rps": float(m.group(1)),
        "p50": percentiles[50.0],
        "p99": percentiles[99.0],
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket": tuple(int(x) for x in sock.groups()) if sock else (0, 0, 0, 0),
    }


def load(results_dir, targets):
    """Returns {target: [run per round, in round order]}."""
    runs = {t: [] for t in targets}
    for path in Path(results_dir).glob("*.txt"):
        target, _, round_ = path.stem.rpartition(".")
        if target in runs and round_.isdigit():
            runs[target].append((int(round_), parse_wrk(path.read_text(), path.name)))
    for target, rs in runs.items():
        if not rs:
            raise ParseError(f"no results for {target} in {results_dir}")
        rs.sort(key=lambda r: r[0])
    return {t: [r for _, r in rs] for t, rs in runs.items()}


def fmt_ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def fmt_rps(v):
    return f"{v:,.0f}"


def report(runs):
    med = {
        t: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
        for t, rs in runs.items()
    }
    out = []
    out.append("| target | requests/s | p50 ms | p99 ms |")
    out.append("| --- | ---: | ---: | ---: |")
    for t, m in med.items():
        label = LABELS.get(t, t)
        out.append(f"| {label} | {fmt_rps(m['rps'])} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} |")
    out.append("")

    rounds = max(len(rs) for rs in runs.values())
    out.append("Requests/s per round:")
    out.append("")
    out.append("| target | " + " | ".join(f"round {i}" for i in range(1, rounds + 1)) + " |")
    out.append("| --- |" + " ---: |" * rounds)
    for t, rs in runs.items():
        cells = [fmt_rps(r["rps"]) for r in rs] + [""] * (rounds - len(rs))
        out.append(f"| {LABELS.get(t, t)} | " + " | ".join(cells) + " |")
    out.append("")

    out.append("Ratios (requests/s: above 1 means Switchyard serves more; p99: below 1 means Switchyard's tail is shorter):")
    out.append("")
    if "switchyard" in med:
        sy = med["switchyard"]
        for other in ("nginx", "haproxy", "direct"):
            if other not in med:
                continue
            o = med[other]
            rps = sy["rps"] / o["rps"] if o["rps"] else float("nan")
            p99 = sy["p99"] / o["p99"] if o["p99"] else float("nan")
            name = f"Switchyard/{LABELS[other].split(' ')[0]}:"
            out.append(f"- {name:<20} requests/s {rps:.2f}, p99 {p99:.2f}")
    else:
        out.append("- n/a (Switchyard was not measured)")

    warnings = []
    for t, rs in runs.items():
        for i, r in enumerate(rs, 1):
            problems = []
            if r["non2xx"]:
                problems.append(f"{r['non2xx']} non-2xx/3xx responses")
            if any(r["socket"]):
                c, rd, w, to = r["socket"]
                problems.append(f"socket errors connect {c}, read {rd}, write {w}, timeout {to}")
            if problems:
                warnings.append(f"- {LABELS.get(t, t)} round {i}: " + "; ".join(problems))
    if warnings:
        out.append("")
        out.append("Errors seen by wrk (these runs are suspect):")
        out.append("")
        out.extend(warnings)
    return "\n".join(out)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        print(report(load(argv[1], argv[2:])))
    except ParseError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
