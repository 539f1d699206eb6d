#!/usr/bin/env python3
"""Switchyard proxy benchmark: turns the raw measurements of `run` into the Markdown report.

Usage: report.py RESULTS_DIR CASE...

RESULTS_DIR holds one directory per case. A load case (plain, logs, 1mib) holds, per target and
round, TARGET.ROUND.txt (the output of `wrk --latency`), TARGET.ROUND.cpu (key=value lines: the
clock ticks of the target's and the backends' processes before and after that wrk run, and for
the logs case the access-log lines written) and TARGET.ROUND.warmup.txt (the warm-up's wrk
output, when there was one); about.md says what the case loads. The idle case holds
TARGET.json from idle.py. Prints, per case, the medians across rounds, the per-round figures,
the Switchyard ratios and any errors wrk saw, then a summary of the ratios of all cases.
"""

import json
import re
import statistics
import sys
from pathlib import Path

ORDER = ["direct", "switchyard", "switchyard_traced", "nginx", "haproxy"]
LABELS = {
    "direct": "direct (backend 1)",
    "switchyard": "Switchyard",
    "switchyard_traced": "Switchyard, tracing on",
    "nginx": "nginx",
    "haproxy": "HAProxy",
}
TITLES = {
    "plain": "plain: access logs off",
    "logs": "logs: access logs on in all three, one line per request to a file",
    "1mib": "1mib: 1 MiB responses",
    "idle": "idle: memory held for idle keep-alive client connections",
    "tracing": "tracing: Switchyard with OpenTelemetry span export off and on",
}
COMPARED = ["nginx", "haproxy"]

# wrk prints durations with these units (format_time in wrk's units.c) and sizes in
# binary units (format_binary: 1024-based).
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
UNIT_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

RPS_RE = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.M)
REQUESTS_RE = re.compile(r"^\s*(\d+) requests in ", re.M)
TRANSFER_RE = re.compile(r"^Transfer/sec:\s+([0-9.]+)(B|KB|MB|GB|TB)\s*$", re.M)
PCT_RE = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)(us|ms|s|m|h)\s*$", re.M)
NON2XX_RE = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.M)
SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class ParseError(Exception):
    pass


def parse_wrk(text, name, latency=True):
    """Returns {rps, requests, mibps, p50, p99 (ms), non2xx, socket} from one `wrk --latency` output
    (without latency=True, a plain `wrk` output gives no p50 and p99)."""
    m = RPS_RE.search(text)
    n = REQUESTS_RE.search(text)
    tr = TRANSFER_RE.search(text)
    if not (m and n and tr):
        raise ParseError(f"{name}: no 'Requests/sec:', 'N requests in' or 'Transfer/sec:' line in wrk output")
    percentiles = {}
    for pct, value, unit in PCT_RE.findall(text):
        percentiles[float(pct)] = float(value) * UNIT_MS[unit]
    for p in (50.0, 99.0) if latency else ():
        if p not in percentiles:
            raise ParseError(f"{name}: no {p:g}% line in wrk output (was --latency given?)")
    non2xx = NON2XX_RE.search(text)
    sock = SOCKET_RE.search(text)
    return {
        "rps": float(m.group(1)),
        "requests": int(n.group(1)),
        "mibps": float(tr.group(1)) * UNIT_BYTES[tr.group(2)] / 1024**2,
        "p50": percentiles.get(50.0, float("nan")),
        "p99": percentiles.get(99.0, float("nan")),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket": tuple(int(x) for x in sock.groups()) if sock else (0, 0, 0, 0),
    }


def parse_kv(path):
    out = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def load_run(dir_, target, round_):
    """One measured run: wrk figures plus CPU per request and log lines per request."""
    base = dir_ / f"{target}.{round_}"
    run = parse_wrk(Path(f"{base}.txt").read_text(), f"{base}.txt")
    cpu_path = Path(f"{base}.cpu")
    if not cpu_path.exists():
        raise ParseError(f"{cpu_path}: missing (no CPU sample for this run)")
    kv = parse_kv(cpu_path)
    try:
        tick_us = 1e6 / int(kv["clk_tck"])
        target_ticks = int(kv["target_after"]) - int(kv["target_before"])
        backend_ticks = int(kv["backends_after"]) - int(kv["backends_before"])
    except (KeyError, ValueError) as e:
        raise ParseError(f"{cpu_path}: bad or missing field ({e})")
    reqs = run["requests"]
    run["cpu_us"] = target_ticks * tick_us / reqs if reqs else float("nan")
    # Share of one core the target used during the run: (ticks / requests) x (requests / second).
    run["cpu_pct"] = run["cpu_us"] * run["rps"] / 1e4
    run["backend_cpu_us"] = backend_ticks * tick_us / reqs if reqs else float("nan")
    run["pids_changed"] = kv.get("pids_changed") == "1"
    if "log_lines" in kv:
        warm = Path(f"{base}.warmup.txt")
        total = reqs + (parse_wrk(warm.read_text(), warm.name, latency=False)["requests"] if warm.exists() else 0)
        run["log_lines_per_req"] = int(kv["log_lines"]) / total if total else float("nan")
    return run


def load_case(dir_):
    """Returns {target: [run per round, in round order]} for the targets present, in ORDER."""
    found = {}
    for path in dir_.glob("*.txt"):
        target, _, round_ = path.stem.rpartition(".")
        if round_.isdigit():
            found.setdefault(target, []).append(int(round_))
    if not found:
        raise ParseError(f"no results in {dir_}")
    targets = [t for t in ORDER if t in found] + sorted(t for t in found if t not in ORDER)
    return {t: [load_run(dir_, t, r) for r in sorted(found[t])] for t in targets}


def fmt_ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def fmt_num(v, digits=0):
    return "n/a" if v != v else f"{v:,.{digits}f}"


def fmt_ratio(a, b):
    return "n/a" if not b or a != a or b != b else f"{a / b:.2f}"


def median(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def with_problems(out, warnings, title):
    """Appends `title` and the warning lines to `out`, if there are any."""
    if warnings:
        out.extend(["", title, ""])
        out.extend(warnings)


def load_section(case, runs, dir_=None):
    """Markdown for one load case, and its ratios {other: {metric: ratio}}."""
    big = case == "1mib"
    logs = case == "logs"
    metrics = ["rps"] + (["mibps"] if big else []) + ["p50", "p99", "cpu_us", "cpu_pct", "backend_cpu_us"]
    metrics += ["log_lines_per_req"] if logs else []
    med = {t: {k: median(rs, k) for k in metrics} for t, rs in runs.items()}

    head = ["target", "requests/s"] + (["MiB/s"] if big else [])
    head += ["p50 ms", "p99 ms", "CPU µs/req", "CPU % of a core", "backends CPU µs/req"]
    head += ["log lines/req"] if logs else []
    out = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for t, m in med.items():
        cells = [LABELS.get(t, t), fmt_num(m["rps"])] + ([fmt_num(m["mibps"])] if big else [])
        cells += [fmt_ms(m["p50"]), fmt_ms(m["p99"]), fmt_num(m["cpu_us"], 1), fmt_num(m["cpu_pct"])]
        cells += [fmt_num(m["backend_cpu_us"], 1)]
        if logs:
            cells.append(fmt_num(m["log_lines_per_req"], 2) if t != "direct" else "")
        out.append("| " + " | ".join(cells) + " |")
    if "direct" in med:
        out.append("")
        out.append("For direct, CPU µs/req is the backends' own (no proxy in the path).")
    out.append("")

    rounds = max(len(rs) for rs in runs.values())
    out.append("Per round, requests/s (CPU µs/req):")
    out.append("")
    out.append("| target | " + " | ".join(f"round {i}" for i in range(1, rounds + 1)) + " |")
    out.append("| --- |" + " ---: |" * rounds)
    for t, rs in runs.items():
        cells = [f"{fmt_num(r['rps'])} ({fmt_num(r['cpu_us'], 1)})" for r in rs] + [""] * (rounds - len(rs))
        out.append(f"| {LABELS.get(t, t)} | " + " | ".join(cells) + " |")
    out.append("")

    ratios = {}
    if case == "tracing" and "switchyard" in med and "switchyard_traced" in med:
        on, off = med["switchyard_traced"], med["switchyard"]
        out.append("Tracing on / off (CPU/req: the goal is at most 1.05):")
        out.append("")
        out.append("| ratio | requests/s | p99 | CPU/req |")
        out.append("| --- | ---: | ---: | ---: |")
        out.append(
            f"| on/off | {fmt_ratio(on['rps'], off['rps'])} | {fmt_ratio(on['p99'], off['p99'])} | "
            f"{fmt_ratio(on['cpu_us'], off['cpu_us'])} |"
        )
        sink = Path(dir_) / "sink.txt" if dir_ else None
        if sink and sink.exists():
            exports, size = sink.read_text().split("=", 1)[1].split()
            out.append("")
            out.append(f"The collector sink received {exports} exports ({int(size):,} bytes of OTLP protobuf).")
    elif "switchyard" in med:
        sy = med["switchyard"]
        out.append(
            "Switchyard ratios (requests/s"
            + (", MiB/s" if big else "")
            + ": above 1 means Switchyard does more; p99 and CPU/req: below 1 means Switchyard needs less):"
        )
        out.append("")
        cols = ["requests/s"] + (["MiB/s"] if big else []) + ["p99", "CPU/req"]
        out.append("| ratio | " + " | ".join(cols) + " |")
        out.append("| --- |" + " ---: |" * len(cols))
        for other in COMPARED + ["direct"]:
            if other not in med:
                continue
            o = med[other]
            r = {
                "rps": fmt_ratio(sy["rps"], o["rps"]),
                "mibps": fmt_ratio(sy["mibps"], o["mibps"]) if big else None,
                "p99": fmt_ratio(sy["p99"], o["p99"]),
                # direct runs no proxy: its CPU is the backend's, not comparable.
                "cpu_us": fmt_ratio(sy["cpu_us"], o["cpu_us"]) if other != "direct" else "—",
            }
            ratios[other] = r
            cells = [r["rps"]] + ([r["mibps"]] if big else []) + [r["p99"], r["cpu_us"]]
            out.append(f"| Switchyard/{LABELS[other].split(' ')[0]} | " + " | ".join(cells) + " |")
    else:
        out.append("Switchyard ratios: n/a (Switchyard was not measured)")

    warnings = []
    for t, rs in runs.items():
        for i, r in enumerate(rs, 1):
            problems = []
            if r["non2xx"]:
                problems.append(f"{r['non2xx']} non-2xx/3xx responses")
            if any(r["socket"]):
                c, rd, w, to = r["socket"]
                problems.append(f"socket errors connect {c}, read {rd}, write {w}, timeout {to}")
            if r["pids_changed"]:
                problems.append("its processes changed during the run (CPU figure incomplete)")
            if logs and t != "direct" and not 0.98 <= r.get("log_lines_per_req", 1) <= 1.02:
                problems.append(f"{r['log_lines_per_req']:.3f} access-log lines per request")
            if problems:
                warnings.append(f"- {LABELS.get(t, t)} round {i}: " + "; ".join(problems))
    with_problems(out, warnings, "Problems in these runs (their figures are suspect):")
    return "\n".join(out), ratios


def idle_section(dir_):
    """Markdown for the idle case, and {target: KB per connection}."""
    results = {}
    for t in ORDER:
        p = dir_ / f"{t}.json"
        if p.exists():
            results[t] = json.loads(p.read_text())
    if not results:
        raise ParseError(f"no results in {dir_}")
    n = max(r["conns"] for r in results.values())
    settle = max(r["settle_seconds"] for r in results.values())
    out = [
        f"| proxy | connections open | before MB | with them open MB | {settle:g} s after closing MB "
        "| KB per connection | returned after close |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    per_conn = {}
    warnings = []
    for t, r in results.items():
        before, during, after = (r[k]["pss_kb"] for k in ("before", "open", "after"))
        growth = during - before
        kb = growth / r["opened"] if r["opened"] else float("nan")
        per_conn[t] = kb
        returned = f"{100 * (during - after) / growth:.0f}%" if growth > 0 else "n/a (no growth)"
        out.append(
            f"| {LABELS.get(t, t)} | {r['opened']:,} | {before / 1024:.1f} | {during / 1024:.1f} | "
            f"{after / 1024:.1f} | {kb:.1f} | {returned} |"
        )
        if r["opened"] < r["conns"]:
            errs = "; ".join(f"{v}x {k}" for k, v in r["errors"].items())
            warnings.append(f"- {LABELS.get(t, t)}: {r['conns'] - r['opened']} of {r['conns']} connections failed ({errs})")
        if r["closed_by_server"]:
            warnings.append(f"- {LABELS.get(t, t)}: closed {r['closed_by_server']} idle connections before the measurement")
    out.append("")
    out.append(
        f"Memory is the proportional set size (Pss, /proc/PID/smaps_rollup) summed over the proxy's "
        f"processes (nginx: master and workers). KB per connection = growth with {n:,} open / connections; "
        f"returned = share of that growth given back {settle:g} s after they closed."
    )
    with_problems(out, warnings, "Problems (these figures are suspect):")
    return "\n".join(out), per_conn


def summary(all_ratios, idle):
    out = ["## Summary", ""]
    if all_ratios:
        out.append("Switchyard's median divided by the other's (requests/s: above 1 is better; p99 and CPU/req: below 1 is better).")
        out.append("")
        out.append("| case | rps /nginx | rps /HAProxy | p99 /nginx | p99 /HAProxy | CPU/req /nginx | CPU/req /HAProxy |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for case, ratios in all_ratios.items():
            cell = lambda o, k: ratios.get(o, {}).get(k, "n/a")  # noqa: E731
            out.append(
                f"| {case} | {cell('nginx', 'rps')} | {cell('haproxy', 'rps')} | {cell('nginx', 'p99')} | "
                f"{cell('haproxy', 'p99')} | {cell('nginx', 'cpu_us')} | {cell('haproxy', 'cpu_us')} |"
            )
    if idle:
        if all_ratios:
            out.append("")
        cells = ", ".join(f"{LABELS.get(t, t)} {kb:.1f}" for t, kb in idle.items())
        out.append(f"Idle keep-alive connections, KB per connection: {cells}.")
    return "\n".join(out)


def report(results_dir, cases):
    out = []
    all_ratios, idle = {}, {}
    for case in cases:
        dir_ = Path(results_dir) / case
        out.append(f"## {TITLES.get(case, case)}")
        out.append("")
        about = dir_ / "about.md"
        if about.exists():
            out.append(about.read_text().strip())
            out.append("")
        if case == "idle":
            text, idle = idle_section(dir_)
        else:
            text, ratios = load_section(case, load_case(dir_), dir_)
            if ratios:
                all_ratios[case] = ratios
        out.append(text)
        out.append("")
    if all_ratios or idle:
        out.append(summary(all_ratios, idle))
    return "\n".join(out)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        print(report(argv[1], argv[2:]))
    except (ParseError, OSError, KeyError, ValueError) as e:
        print(f"bench: error: report: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
