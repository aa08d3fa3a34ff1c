"""The status page with many namespaces: size and time of one HTML and one JSON request.

In-process (httpx's ASGI transport, no network): ``--namespaces`` namespaces made
with ``app.of()`` on ``--hosts`` hosts (100), then the main host's ``/socket.io/status`` and
``status.json`` are fetched ``--repeat`` times each; the median time and the size
are printed. The page describes one page of namespaces (100 by default), so both
should stay flat as the count grows.

Run: ``.venv/bin/python benchmarks/status_page.py [--namespaces 20000] [--hosts 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import socketio

from dynamic_io_asgi import DynamicIO


async def measure(count: int, repeat: int, hosts: int = 100) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host="main.test", public_status=True)
    for index in range(count):
        await app.of(f"/room{index}", f"h{index % hosts}.test")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://main.test") as http:
        for path in ("/socket.io/status", "/socket.io/status.json"):
            times, size = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                response = await http.get(path)
                times.append(time.perf_counter() - start)
                size = len(response.content)
                assert response.status_code == 200, response.status_code
            print(f"{path:24} {size / 1e6:7.3f} MB  {1000 * statistics.median(times):8.1f} ms")
    await app.aclose()


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--namespaces", type=int, default=20_000)
    options.add_argument("--repeat", type=int, default=5)
    options.add_argument("--hosts", type=int, default=100)
    args = options.parse_args()
    count, hosts = args.namespaces, args.hosts
    print(f"# status page, {count:,} namespaces on {hosts:,} hosts, main host's view")
    asyncio.run(measure(args.namespaces, args.repeat, args.hosts))


if __name__ == "__main__":
    main()
