"""The cluster view of the status page (docs/design.md §10): each process publishes a
summary of itself to Redis, and a status request merges them.

With python-socketio's ``AsyncRedisManager``, every process writes its summary
(server id, host name, pid, uptime, Engine.IO sessions, its live namespaces and
their socket counts) under a key of its own every ``interval`` seconds, with an
expiry of three intervals. A status request reads them all, and a server whose
summary is older than two intervals and a second is shown as not healthy (a process
killed without its shutdown, which deletes its key, stays so until the key expires).
Redis being down degrades the page to this process's view, with the error said in
``cluster``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from typing import Any

from socketio.async_pubsub_manager import AsyncPubSubManager

__all__ = ["Cluster", "cluster_for", "start_pubsub"]

logger = logging.getLogger("dynamic_io_asgi")

INTERVAL = 2.0
HOSTNAME = socket.gethostname()
#: A process with more namespaces than this publishes their number, not their names:
#: the summary stays small at scale (its page still lists them with ``?scope=local``).
MAX_PUBLISHED = 1000


class Cluster:
    """The summaries of the processes that share one Redis manager's channel."""

    def __init__(self, source: Any, manager: Any, interval: float = INTERVAL) -> None:
        self.source = source
        self.manager = manager
        self.interval = interval
        self.server_id = uuid.uuid4().hex[:12]
        self._prefix = f"dynamicio:{manager.channel}:server:"
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None

    def _client(self) -> Any:
        if self._redis is None:
            module = self.manager._get_redis_module()
            self._redis = module.Redis.from_url(
                self.manager.redis_url, **self.manager.redis_options
            )
        return self._redis

    def start(self) -> None:
        """Publish this process's summary every interval, from now on."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._publish_loop(), name="dynamic_io_asgi cluster status"
            )

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._redis is not None:
            try:
                await self._redis.delete(self._prefix + self.server_id)
                await self._redis.aclose()
            except Exception:  # Redis gone: the key expires by itself
                logger.debug("cluster status: could not remove our summary", exc_info=True)
            self._redis = None

    def summary(self) -> dict[str, Any]:
        sio, registry = self.source.sio, self.source.registry
        rooms = sio.manager.rooms
        counts = {full: len(rooms.get(full, {}).get(None, ())) for full in registry.namespaces}
        for full in list(rooms):  # static namespaces with sockets
            if isinstance(full, str) and full not in counts:
                counts[full] = len(rooms[full].get(None, ()))
        return {
            "id": self.server_id,
            "hostname": HOSTNAME,
            "pid": os.getpid(),
            "uptime": round(time.time() - self.source.started_at, 3),
            "engineio_sessions": len(sio.eio.sockets),
            "sockets": sum(counts.values()),
            "namespace_count": len(counts),
            # Their names only while they are few (see MAX_PUBLISHED).
            "namespaces": counts if len(counts) <= MAX_PUBLISHED else {},
            "last_seen": round(time.time(), 3),
        }

    async def _publish_loop(self) -> None:
        while True:
            try:
                await self.publish()
            except Exception:
                logger.warning("cluster status: could not publish to Redis", exc_info=True)
            await asyncio.sleep(self.interval)

    async def publish(self) -> None:
        summary = json.dumps(self.summary(), separators=(",", ":"))
        expiry = max(1, int(3 * self.interval + 0.999))
        await self._client().set(self._prefix + self.server_id, summary, ex=expiry)

    async def servers(self) -> list[dict[str, Any]]:
        """Every process's latest summary (this one's fresh), oldest id first."""
        redis = self._client()
        keys = [key async for key in redis.scan_iter(match=self._prefix + "*", count=500)]
        values = await redis.mget(keys) if keys else []
        found = {}
        for value in values:
            if value:
                summary = json.loads(value)
                found[summary["id"]] = summary
        found[self.server_id] = self.summary()
        now = time.time()
        for summary in found.values():
            summary["healthy"] = now - summary["last_seen"] < 2 * self.interval + 1
        return sorted(found.values(), key=lambda summary: summary["id"])


def cluster_for(source: Any) -> Cluster | None:
    """A :class:`Cluster` when the server's manager is python-socketio's Redis one."""
    try:
        from socketio import AsyncRedisManager
    except ImportError:  # pragma: no cover
        return None
    manager = source.sio.manager
    if not isinstance(manager, AsyncRedisManager):
        return None
    return Cluster(source, manager)


def start_pubsub(sio: Any, cluster: Cluster | None) -> None:
    """Start a pub/sub client manager now, as python-socketio would at the first
    Engine.IO connection: until then this process misses the acks of its own
    ``call()``s and emits with callbacks (docs/design.md §8); and the ``cluster``
    publisher, if any."""
    if not sio.manager_initialized and isinstance(sio.manager, AsyncPubSubManager):
        sio.manager_initialized = True
        sio.manager.initialize()
    if cluster is not None:
        cluster.start()
