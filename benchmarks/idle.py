"""CPU of an idle server holding many namespaces: DynamicIO against plain python-socketio.

Each variant runs in a fresh child process: it creates ``--namespaces`` namespaces
(DynamicIO: ``await app.of(name)`` with ``--retirement``, an hour by default, so none is due;
plain python-socketio: a handler per name, as ``namespaces="*"`` apps hold them),
lets the event loop settle, then measures its own CPU time while idle for
``--seconds``. The figure is the share of one core; the middleware's retirement
task sleeps until the first deadline, so it should be as flat as the baseline.

Run: ``.venv/bin/python benchmarks/idle.py [--namespaces 50000] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import socketio

from dynamic_io_asgi import DynamicIO


async def hold(variant: str, count: int, seconds: float, retirement: float) -> float:
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")
    if variant == "wrapped":
        app = DynamicIO(socketio.ASGIApp(sio), retirement=retirement)
        app.setup_namespace("*", lambda nsp, match: nsp.on("echo", lambda sid, data: data))
        for index in range(count):
            nsp = await app.of(f"/n{index}")
            nsp.retirement = retirement
    else:
        for index in range(count):
            sio.on("echo", lambda sid, data: data, namespace=f"/n{index}")
    await asyncio.sleep(2.0)  # let the retirement task take its first look
    start = time.process_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - start
    if variant == "wrapped":
        await app.aclose()
    return used / seconds


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--namespaces", type=int, default=50_000)
    options.add_argument("--seconds", type=float, default=10.0)
    options.add_argument(
        "--retirement", type=float, default=3600.0, help="longer than the run: none is due"
    )
    options.add_argument("--child", choices=["baseline", "wrapped"], help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        print(
            json.dumps(
                asyncio.run(hold(args.child, args.namespaces, args.seconds, args.retirement))
            )
        )
        return
    print(
        f"# idle CPU, {args.namespaces:,} namespaces retiring after {args.retirement:g} s,"
        f" {args.seconds:g} s each"
    )
    shares = {}
    for variant in ("baseline", "wrapped"):
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                variant,
                "--namespaces",
                str(args.namespaces),
                "--seconds",
                str(args.seconds),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        shares[variant] = json.loads(output.strip().splitlines()[-1])
        print(f"{variant:8}: {100 * shares[variant]:.2f} % of a core")


if __name__ == "__main__":
    main()
