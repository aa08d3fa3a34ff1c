"""Which namespaces one page of the status page shows: the ``?page=``, ``?per_page=``,
``?host=`` and ``?q=`` of a request, and the page picked from the registry's index
of namespaces by host, so that a page costs what it shows, not what is live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ._asgi import Scope
from ._hosts import split_fullname
from ._registry import NamespaceRegistry

__all__ = ["MAX_PER_PAGE", "PER_PAGE", "REMOTE", "Entry", "View", "select"]

#: Marks a namespace that only other processes have.
REMOTE: Any = object()
#: Namespaces described on one page of the status page (``?per_page=``, at most
#: ``MAX_PER_PAGE``): its cost stays that of one page, however many are live.
PER_PAGE = 100
MAX_PER_PAGE = 1000


@dataclass(frozen=True)
class View:
    """Which namespaces a status request asks for: a page of them, maybe filtered."""

    page: int = 1
    per_page: int = PER_PAGE
    host: str | None = None  #: only this host's (``""``: the main host's)
    search: str = ""  #: only names containing this
    scope: str = "cluster"  #: ``"local"``: this process only

    @classmethod
    def of(cls, scope: Scope) -> View:
        """``?page=N&per_page=N&host=H&q=TEXT``; values out of range fall back."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

        def number(key: str, default: int, top: int) -> int:
            try:
                value = int(query.get(key, [""])[-1])
            except ValueError:
                return default
            return value if 1 <= value <= top else default

        return cls(
            page=number("page", 1, 10**9),
            per_page=number("per_page", PER_PAGE, MAX_PER_PAGE),
            host=query.get("host", [None])[-1],
            search=query.get("q", [""])[-1][:200],
            scope="local" if query.get("scope", [""])[-1] == "local" else "cluster",
        )


#: A namespace in view: ``((not the main host, host, name shown), full name, what)``, where
#: ``what`` is its ``DynamicNamespace``, ``None`` for a static one, or ``REMOTE``.
Entry = tuple[tuple[bool, str, str], str, Any]


def select(
    registry: NamespaceRegistry,
    rooms: dict[Any, Any],
    host: str | None,
    view: View,
    on_servers: dict[str, dict[str, int]] | None,
) -> tuple[list[Entry], int, int, int, int]:
    """The page of namespaces ``view`` asks for in the view of ``host``, sorted; and how
    many are in view, how many matched the filters, the page's number and the number
    of pages.

    In view: the namespace objects, the static namespaces that clients reached
    (handlers registered on the server directly) while they have sockets, and with
    ``on_servers`` those that only other processes have. The cost is that of the
    hosts and of the namespaces of the hosts on the page (or, with ``?q=``, a scan
    of the names), not a sort of everything."""
    extra = _others(registry, rooms, on_servers)
    if host is not None:  # a tenant sees its own host (and ?host= can only narrow that)
        wanted: list[str | None] = [host] if view.host in (None, host) else []
    elif view.host is not None:
        wanted = [view.host or None]  # "" is the main host
    else:
        wanted = sorted({*registry.index.hosts(), *extra}, key=_host_key)
    if host is None:
        in_view = len(registry.index) + sum(map(len, extra.values()))
    else:
        in_view = len(registry.index.of_host(host)) + len(extra.get(host, ()))
    if view.search:
        entries = [
            entry
            for one in wanted
            for entry in _host_entries(registry, one, host, extra, view.search)
        ]
        entries.sort(key=_entry_key)
        return (*_slice(len(entries), view, lambda start, end: entries[start:end]), in_view)
    sizes = [len(registry.index.of_host(one)) + len(extra.get(one, ())) for one in wanted]

    def cut(start: int, end: int) -> list[Entry]:
        page: list[Entry] = []
        offset = 0
        for one, size in zip(wanted, sizes, strict=True):
            if offset < end and offset + size > start:
                entries = sorted(_host_entries(registry, one, host, extra), key=_entry_key)
                page += entries[max(0, start - offset) : end - offset]
            offset += size
        return page

    return (*_slice(sum(sizes), view, cut), in_view)


def _slice(
    matching: int, view: View, cut: Callable[[int, int], list[Entry]]
) -> tuple[list[Entry], int, int, int]:
    """``cut(start, end)`` of the page ``view`` asks for among ``matching`` entries; and
    how many matched, the page's number and the number of pages."""
    pages = max(1, -(-matching // view.per_page))
    number = min(view.page, pages)
    start = (number - 1) * view.per_page
    return cut(start, start + view.per_page), matching, number, pages


def _host_key(host: str | None) -> tuple[bool, str]:
    return host is not None, host or ""


def _entry_key(entry: Entry) -> tuple[bool, str, str]:
    return entry[0]


def _host_entries(
    registry: NamespaceRegistry,
    one: str | None,
    view_host: str | None,
    extra: dict[str | None, list[tuple[str, Any]]],
    search: str = "",
) -> list[Entry]:
    """The entries of host ``one``, unsorted, as seen from ``view_host`` (only those
    whose shown name contains ``search``)."""
    key_host = (one is not None, one or "")
    entries: list[Entry] = []
    for full, what in [*registry.index.of_host(one).items(), *extra.get(one, ())]:
        shown = full if view_host is None else split_fullname(full)[0]
        if search in shown:
            entries.append(((*key_host, shown), full, what))
    return entries


def _others(
    registry: NamespaceRegistry, rooms: dict[Any, Any], on_servers: dict[str, dict[str, int]] | None
) -> dict[str | None, list[tuple[str, Any]]]:
    """By host: the static namespaces with sockets (``rooms``: python-socketio's
    table of them), and those only other processes have."""
    found: dict[str | None, list[tuple[str, Any]]] = {}
    seen: set[str] = set()
    candidates: list[tuple[str, Any]] = [
        (full, None) for full in list(registry.statics) if rooms.get(full, {}).get(None)
    ]
    candidates += [(full, REMOTE) for full in on_servers or ()]
    for full, what in candidates:
        if full in seen or registry.index.get(full, split_fullname(full)[1]) is not None:
            continue
        seen.add(full)
        found.setdefault(split_fullname(full)[1], []).append((full, what))
    return found
