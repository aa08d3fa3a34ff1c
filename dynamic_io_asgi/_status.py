"""The status page (docs/design.md §7): the status document of :mod:`._snapshot`
served as HTML (jinja2) or JSON, with the cluster's servers when there is a cluster."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2

from ._asgi import Receive, Scope, Send, authorised, respond
from ._hosts import BadHost
from ._paging import View
from ._snapshot import StatusSource, snapshot

logger = logging.getLogger("dynamic_io_asgi")

__all__ = ["StatusPage", "duration", "utc"]


TEMPLATE = "status.html"
MAX_REFRESH = 3600
#: How long a status request waits for the other processes' summaries.
CLUSTER_TIMEOUT = 1.0

_PACKAGE_TEMPLATES = Path(__file__).parent / "templates"  # inside an installed wheel
_CHECKOUT_TEMPLATES = Path(__file__).parent.parent / "templates"  # in a source checkout
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class StatusPage:
    """The status page of one middleware, with its jinja2 environment (built once).

    :param source: the middleware whose namespaces it shows.
    :param templates: a folder of templates that replace the page's own.
    """

    def __init__(self, source: StatusSource, templates: str | os.PathLike[str] | None) -> None:
        self.source = source
        self.environment = _environment(templates)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for the status page (``public_status`` is on).

        Unauthorised: 404. Not GET/HEAD: 405. A bad Host: 400. JSON for
        ``status.json`` or ``Accept: application/json``, HTML otherwise.
        """
        middleware = self.source
        head = scope.get("method") == "HEAD"
        if not await authorised(middleware.public_status, scope, "public_status"):
            await respond(send, 404, b"Not Found", head=head)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD")]
            await respond(send, 405, b"Method Not Allowed", head=head, extra=allow)
            return
        try:
            host = middleware.resolve_host(scope)
        except BadHost as exc:
            await respond(send, 400, f"Bad host: {exc}".encode(), head=head)
            return
        view = View.of(scope)
        servers, cluster = await self._cluster_view(view)
        status = snapshot(middleware, host, view, servers)
        if cluster is not None:
            status["cluster"] = cluster
        await self._respond(scope, send, status, head)

    def snapshot(self, host: str | None, view: View | None = None) -> dict[str, Any]:
        """The status document as seen from ``host``; see :func:`._snapshot.snapshot`."""
        return snapshot(self.source, host, view or View())

    async def _cluster_view(
        self, view: View
    ) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
        """The cluster's server summaries (``None``: this process's view only) and the
        document's ``cluster`` section (``None`` without a cluster)."""
        cluster = self.source.cluster
        if cluster is None:
            return None, None
        servers, error = None, None
        if view.scope != "local":
            try:
                servers = await asyncio.wait_for(cluster.servers(), CLUSTER_TIMEOUT)
            except Exception as exc:  # Redis down or slow: this process's view
                error = f"{type(exc).__name__}: {exc}"[:200]
                logger.warning("status page: no cluster view (%s)", error)
        section = {
            "scope": "local" if servers is None else "cluster",
            "server_id": cluster.server_id,
            "error": error,
            "totals": None if servers is None else _cluster_totals(servers),
        }
        return servers, section

    async def _respond(self, scope: Scope, send: Send, status: dict[str, Any], head: bool) -> None:
        fixed = scope["path"].endswith(".json")  # else the Accept header decides
        vary = [] if fixed else [(b"vary", b"accept")]
        if fixed or _wants_json(scope):
            body = json.dumps(status, indent=2).encode("utf-8")
            await respond(send, 200, body, "application/json", head=head, extra=vary)
            return
        template = self.environment.get_template(TEMPLATE)
        html = template.render(status=status, refresh=_refresh(scope))
        extra = [*vary, (b"content-security-policy", _CSP.encode())]
        await respond(send, 200, html.encode("utf-8"), "text/html", head=head, extra=extra)


def _cluster_totals(servers: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "servers": len(servers),
        "healthy": sum(server["healthy"] for server in servers),
        "engineio_sessions": sum(server["engineio_sessions"] for server in servers),
        "sockets": sum(server["sockets"] for server in servers),
        "namespaces": sum(server["namespace_count"] for server in servers),
    }


def _wants_json(scope: Scope) -> bool:
    """Whether ``Accept`` names ``application/json`` at least as strongly as ``text/html``."""
    quality = {"application/json": 0.0, "text/html": 0.0}
    for key, value in scope.get("headers", ()):
        if key.lower() != b"accept":
            continue
        for item in value.decode("latin-1").split(","):
            media, *params = (part.strip() for part in item.split(";"))
            if media.lower() not in quality:
                continue
            q = 1.0
            for param in params:
                name, _, number = param.partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(number)
                    except ValueError:
                        q = 0.0
            quality[media.lower()] = max(quality[media.lower()], q)
    return quality["application/json"] > 0 and quality["application/json"] >= quality["text/html"]


def _refresh(scope: Scope) -> int | None:
    """``?refresh=N``: reload the page every N seconds (1 to 3600)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        seconds = int(query.get("refresh", [""])[-1])
    except ValueError:
        return None
    return seconds if 1 <= seconds <= MAX_REFRESH else None


def _environment(templates: str | os.PathLike[str] | None) -> jinja2.Environment:
    """The jinja2 environment of a status page: ``templates`` first, then the page's own."""
    ours = _PACKAGE_TEMPLATES if _PACKAGE_TEMPLATES.is_dir() else _CHECKOUT_TEMPLATES
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(os.fspath(templates)))
    loaders.append(jinja2.FileSystemLoader(str(ours)))
    # A user's status.html can {% extends "dynamic_io_asgi/status.html" %}.
    loaders.append(jinja2.PrefixLoader({"dynamic_io_asgi": jinja2.FileSystemLoader(str(ours))}))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["duration"] = duration
    environment.filters["utc"] = utc
    return environment


def duration(seconds: float | None) -> str:
    """A short human duration: ``"4.2 s"``, ``"42 s"``, ``"3 min 05 s"``, ``"2 min"``,
    ``"2 h 07 min"``, ``"3 d 04 h"``; ``"–"`` for ``None``."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return _units(whole // 60, "min", whole % 60, "s")
    if whole < 86400:
        return _units(whole // 3600, "h", whole % 3600 // 60, "min")
    return _units(whole // 86400, "d", whole % 86400 // 3600, "h")


def _units(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big} {big_unit}" + (f" {small:02d} {small_unit}" if small else "")


def utc(epoch: float) -> str:
    """``"2025-01-31 12:00:00 UTC"`` for a ``time.time()`` value."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
