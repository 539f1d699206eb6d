#!/usr/bin/env python3
"""Switchyard abuse benchmark: memory held for partial request heads.

Usage: heads.py PORT PID CONNECTIONS BYTES

Opens CONNECTIONS connections to 127.0.0.1:PORT that each send BYTES of a request head that
never ends, holds them 2 s, closes them all and waits 3 s. Prints one line: the RSS (MiB) of
process PID before, with the connections open, and after they closed, and how many opened.
"""

import asyncio
import resource
import sys


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"heads.py: no VmRSS for process {pid}")


async def open_one(port, size, sem, out):
    async with sem:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * max(size - 40, 0) + b"\r\n")
            await writer.drain()
            out.append(writer)
        except OSError:
            pass


async def main():
    port, pid, conns, size = (int(a) for a in sys.argv[1:5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 1000), hard))
    before = rss_mib(pid)
    sem = asyncio.Semaphore(200)
    writers = []
    await asyncio.gather(*(open_one(port, size, sem, writers) for _ in range(conns)))
    await asyncio.sleep(2)
    held = rss_mib(pid)
    for w in writers:
        w.close()
    await asyncio.sleep(3)
    print(f"{before:.1f} {held:.1f} {rss_mib(pid):.1f} {len(writers)}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    asyncio.run(main())
