"""Compare two cProfile dumps of the benchmark servers, per Socket.IO message.

``throughput.py --profile-server PREFIX`` writes ``PREFIX.baseline.prof`` and
``PREFIX.wrapped.prof``. This prints the functions whose own time (``tottime``)
per message handled grew the most from baseline to wrapped, and the wrapped
server's time in ``dynamic_io_asgi`` by function (cumulative). Both are
normalised by the calls of python-socketio's ``_handle_eio_message``, so runs of
different lengths compare. cProfile inflates every Python call, so read the
shares, not the microseconds.

Run: ``.venv/bin/python benchmarks/profile_diff.py PREFIX [--top N]``
"""

from __future__ import annotations

import argparse
import pstats
from typing import Any

Key = tuple[str, int, str]
MESSAGES = "_handle_eio_message"


def load(path: str) -> tuple[dict[Key, Any], int]:
    stats: dict[Key, Any] = pstats.Stats(path).stats  # type: ignore[attr-defined]
    messages = sum(v[1] for k, v in stats.items() if k[2] == MESSAGES and "socketio" in k[0])
    return stats, max(messages, 1)


def label(key: Key) -> str:
    path, line, name = key
    for marker in ("site-packages/", "dynamic_io_asgi/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("prefix")
    options.add_argument("--top", type=int, default=25)
    args = options.parse_args()
    base, base_n = load(args.prefix + ".baseline.prof")
    wrapped, wrapped_n = load(args.prefix + ".wrapped.prof")
    print(f"messages handled: baseline {base_n}, wrapped {wrapped_n}")

    def own(stats: dict[Key, Any], key: Key, n: int) -> float:
        return stats[key][2] / n * 1e6 if key in stats else 0.0

    keys = set(base) | set(wrapped)
    skip = ("run", "select", "poll")  # the event loop's idle time
    growth = sorted(
        ((own(wrapped, k, wrapped_n) - own(base, k, base_n), k) for k in keys if k[2] not in skip),
        reverse=True,
    )
    print(f"\nown time per message, µs (profiled): largest growth, top {args.top}")
    for delta, key in growth[: args.top]:
        print(
            f"{delta:+8.2f}  base {own(base, key, base_n):7.2f}"
            f"  wrapped {own(wrapped, key, wrapped_n):7.2f}  {label(key)}"
        )
    print("\ndynamic_io_asgi, cumulative time per message, µs (profiled)")
    ours = sorted(
        ((v[3] / wrapped_n * 1e6, k) for k, v in wrapped.items() if "dynamic_io_asgi" in k[0]),
        reverse=True,
    )
    for cumulative, key in ours[: args.top]:
        print(f"{cumulative:8.2f}  {label(key)}")


if __name__ == "__main__":
    main()
