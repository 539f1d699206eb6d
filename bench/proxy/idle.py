#!/usr/bin/env python3
"""Switchyard proxy benchmark: memory a proxy holds for idle keep-alive client connections.

Usage: idle.py --port PORT --pid PID [--pid PID...] --conns N --out FILE [--settle S] [--path /]

Measures the memory of the processes PID (and their children, e.g. nginx workers) three times:
before opening anything; with N keep-alive connections to 127.0.0.1:PORT open, each after one
`GET PATH` and its full response; and SETTLE seconds after closing them all. Memory is the sum
of Pss (and Rss) from /proc/PID/smaps_rollup, or VmRSS from /proc/PID/status where smaps_rollup
is missing. Writes one JSON object to FILE; run.sh hands it to report.py. Exits non-zero with a
message on stderr when it cannot measure at all (process gone, no connection opened).
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import time

CONNECT_CONCURRENCY = 200  # connections being opened at once (stays under every listen backlog)
REQUEST_TIMEOUT_S = 15.0


def children(pid):
    """Direct children of pid, read from /proc (all threads' children lists)."""
    out = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.update(int(c) for c in f.read().split())
    except FileNotFoundError:
        pass
    return out


def tree(pids):
    """The given pids and all their descendants."""
    seen, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(children(p))
    return sorted(seen)


def memory_kb(pid):
    """(pss_kb, rss_kb) of one process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line and not line[0].isdigit())
        return int(fields["Pss"].split()[0]), int(fields["Rss"].split()[0])
    except (FileNotFoundError, PermissionError, KeyError):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    return rss, rss
    raise RuntimeError(f"no memory figure for pid {pid}")


def sample(roots):
    pids = tree(roots)
    pss = rss = 0
    for p in pids:
        try:
            a, b = memory_kb(p)
        except FileNotFoundError:
            continue  # exited between listing and reading
        pss += a
        rss += b
    return {"pss_kb": pss, "rss_kb": rss, "procs": len(pids)}


async def open_one(port, path, sem):
    """Opens one connection, sends one request, reads the full response; returns the streams."""
    async with sem:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            req = f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: idle.py\r\n\r\n"
            writer.write(req.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                if name.strip().lower() == "connection" and "close" in value.lower():
                    raise ConnectionError("server answered Connection: close")
            if length is None:
                raise ConnectionError("response without Content-Length")
            await asyncio.wait_for(reader.readexactly(length), REQUEST_TIMEOUT_S)
            if status != 200:
                raise ConnectionError(f"status {status}")
        except BaseException:
            writer.close()
            raise
        return reader, writer


async def run(args):
    roots = args.pid
    for p in roots:
        if not os.path.exists(f"/proc/{p}"):
            raise SystemExit(f"idle.py: process {p} is not running")
    before = sample(roots)

    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(open_one(args.port, args.path, sem) for _ in range(args.conns)), return_exceptions=True
    )
    open_s = time.monotonic() - t0
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = {}
    for r in results:
        if isinstance(r, BaseException):
            key = f"{type(r).__name__}: {r}"[:120]
            errors[key] = errors.get(key, 0) + 1
    if not conns:
        raise SystemExit(f"idle.py: no connection opened to port {args.port}: {errors}")

    # A read on every open connection notices a server that closes it while it should stay idle.
    watchers = [asyncio.ensure_future(r.read(1)) for r, _ in conns]
    await asyncio.sleep(1.0)
    during = sample(roots)
    closed_by_server = sum(1 for w in watchers if w.done())

    for w in watchers:
        w.cancel()
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    await asyncio.sleep(args.settle)
    after = sample(roots)

    return {
        "conns": args.conns,
        "opened": len(conns),
        "errors": errors,
        "closed_by_server": closed_by_server,
        "open_seconds": round(open_s, 2),
        "settle_seconds": args.settle,
        "before": before,
        "open": during,
        "after": after,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--path", default="/")
    args = ap.parse_args()
    if args.conns < 1:
        ap.error("--conns must be at least 1")

    need = args.conns + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
        except (ValueError, OSError) as e:
            raise SystemExit(
                f"idle.py: open-files limit {soft} (hard {hard}) is below {need} and cannot be raised: {e}"
            )

    result = asyncio.run(run(args))
    with open(args.out, "w") as f:
        json.dump(result, f)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
