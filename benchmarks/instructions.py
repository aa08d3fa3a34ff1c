"""CPU instructions per echo round trip (valgrind): plain python-socketio against DynamicIO.

The in-process workload of ``overhead.py`` (one Engine.IO session driven
through the ASGI app, ack'ed ``echo`` calls back to back) runs in a child
process under ``valgrind --tool=callgrind``, twice: with ``--short`` and with
``--short + --extra`` round trips after the warm-up. The difference in
instructions divided by ``--extra`` is the cost of one round trip, start-up and
warm-up cancelled out. With ``PYTHONHASHSEED=0`` a figure repeats to about
0.5 %, where timings on a shared machine move by a few per cent: this is the
measure for changes smaller than the noise of ``throughput.py``. Slow (about
half a minute per figure, two at a time); needs valgrind (``apt install
valgrind``). ``callgrind_annotate`` on a kept ``--out`` file shows which C
functions grew.

Run: ``.venv/bin/python benchmarks/instructions.py [--quick] [--out DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import re
import shutil
import subprocess
import sys

from _common import main, table
from overhead import PollingSession, WebSocketSession, connect, round_trips
from throughput import HOSTS, make_app

VARIANTS = ("baseline", "wrapped")
TRANSPORTS = ("websocket", "polling")


async def workload(variant: str, transport: str, host: str, count: int) -> None:
    """The measured process: warm up, then ``count`` round trips, then exit at once."""
    logging.getLogger("engineio.server").setLevel(logging.CRITICAL)
    kind = PollingSession if transport == "polling" else WebSocketSession
    session = kind(make_app(variant), host)  # type: ignore[arg-type]
    await connect(session)
    await round_trips(session, 300, 1)
    await round_trips(session, count, 1000)
    os._exit(0)  # no teardown in the count


def instructions(args: argparse.Namespace, variant: str, transport: str, host: str, n: int) -> int:
    out = os.path.join(args.out, f"{variant}.{transport}.{host}.{n}") if args.out else "/dev/null"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        os.path.abspath(__file__),
        "--workload",
        f"{variant},{transport},{host},{n}",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind gave no count: {done.stderr[-500:]}")
    return int(found[1])


async def per_round_trip(
    args: argparse.Namespace, variant: str, transport: str, host: str
) -> float:
    """Instructions per round trip: two runs, side by side, and their difference."""
    short, long = await asyncio.gather(
        *(
            asyncio.to_thread(instructions, args, variant, transport, host, n)
            for n in (args.short, args.short + args.extra)
        )
    )
    return (long - short) / args.extra


async def bench(args: argparse.Namespace) -> None:
    if args.workload:
        variant, transport, host, count = args.workload.split(",")
        await workload(variant, transport, host, int(count))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind)")
    if args.quick:
        args.short, args.extra = 100, 200
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    print(
        f"# instructions: valgrind callgrind, PYTHONHASHSEED=0, ({args.short} + {args.extra})"
        f" - {args.short} round trips after 300 of warm-up\n",
        flush=True,
    )
    rows = []
    for transport, host_kind in itertools.product(TRANSPORTS, HOSTS):
        counts = {v: await per_round_trip(args, v, transport, HOSTS[host_kind]) for v in VARIANTS}
        base, wrapped = counts["baseline"], counts["wrapped"]
        rows.append(
            [transport, host_kind, f"{base:,.0f}", f"{wrapped:,.0f}", f"{wrapped / base - 1:+.1%}"]
        )
        print(f"{transport:9} {host_kind:5}: {base:,.0f} -> {wrapped:,.0f}", flush=True)
    print()
    print(table(["transport", "session", "baseline", "wrapped", "middleware"], rows))
    print("\ninstructions per echo round trip, in-process (no network, no uvicorn).")


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--short", type=int, default=200, help="round trips of the short run")
    options.add_argument("--extra", type=int, default=1000, help="more in the long run")
    options.add_argument("--out", help="keep the callgrind files in this folder")
    options.add_argument("--workload", help=argparse.SUPPRESS)


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
