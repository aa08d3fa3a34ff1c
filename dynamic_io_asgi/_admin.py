"""The Socket.IO Admin UI through python-socketio's ``instrument()``, with live
namespaces on its dashboard.

python-socketio's instrumented server lists the dashboard's namespaces once, when
its stats task starts at the first connection, so namespaces created later never
show and retired ones never leave. :func:`live_server_stats` replaces that one
method on the instance ``instrument()`` returns with the same loop reading the
namespace list at every interval; everything else is python-socketio's own.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

__all__ = ["live_server_stats"]

HOSTNAME = socket.gethostname()


def live_server_stats(admin: Any) -> Any:
    """Make ``admin`` (``sio.instrument(...)``'s result) list the live namespaces in
    every ``server_stats`` it emits; returns ``admin``."""

    async def emit_server_stats() -> None:
        sio = admin.sio
        start_time = time.time()
        while not admin.stop_stats_event.is_set():
            await sio.sleep(admin.server_stats_interval)
            rooms = sio.manager.rooms
            await sio.emit(
                "server_stats",
                {
                    "serverId": admin.server_id,
                    "hostname": HOSTNAME,
                    "pid": os.getpid(),
                    "uptime": time.time() - start_time,
                    "clientsCount": len(sio.eio.sockets),
                    "pollingClientsCount": len(
                        [s for s in sio.eio.sockets.values() if not s.upgraded]
                    ),
                    "aggregatedEvents": admin.event_buffer.get_and_clear(),
                    "namespaces": [
                        {"name": name, "socketsCount": len(rooms.get(name, {}).get(None, ()))}
                        for name in sorted(sio.handlers)  # read now, not once
                    ],
                },
                namespace=admin.admin_namespace,
            )
            while admin.admin_queue:
                event, args = admin.admin_queue.pop(0)
                await sio.emit(event, args, namespace=admin.admin_namespace)

    if not hasattr(admin, "_emit_server_stats"):
        raise TypeError("live_server_stats: pass what sio.instrument() returned")
    admin._emit_server_stats = emit_server_stats
    return admin
