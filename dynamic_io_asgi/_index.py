"""The registry's live namespace objects, by host."""

from __future__ import annotations

from ._namespace import DynamicNamespace

__all__ = ["NamespaceIndex"]


class NamespaceIndex:
    """The live namespace objects by host, then by full name: a view of one host (the
    status page's) costs that host's namespaces, not all, and a namespace costs one
    dict entry, not one here and one in a table of them all (a server may hold
    100,000). Callers know a name's host, so a lookup is two dict lookups."""

    def __init__(self) -> None:
        self._by_host: dict[str | None, dict[str, DynamicNamespace]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, full: str, host: str | None) -> DynamicNamespace | None:
        """The namespace object of the full name ``full`` of ``host``, if live."""
        of_host = self._by_host.get(host)
        return None if of_host is None else of_host.get(full)

    def add(self, nsp: DynamicNamespace) -> None:
        of_host = self._by_host.setdefault(nsp.host, {})
        if nsp.fullname not in of_host:
            self._count += 1
        of_host[nsp.fullname] = nsp

    def remove(self, nsp: DynamicNamespace) -> None:
        """Forget ``nsp`` (if it is the live object of its name)."""
        host = nsp.host
        of_host = self._by_host.get(host)
        if of_host is None or of_host.get(nsp.fullname) is not nsp:
            return
        del of_host[nsp.fullname]
        self._count -= 1
        if not of_host:
            del self._by_host[host]

    def all(self) -> dict[str, DynamicNamespace]:
        """The namespace objects by full name (a copy)."""
        return {full: nsp for of_host in self._by_host.values() for full, nsp in of_host.items()}

    def of_host(self, host: str | None) -> dict[str, DynamicNamespace]:
        """The namespace objects of ``host`` by full name (not a copy: don't change it)."""
        return self._by_host.get(host, {})

    def hosts(self) -> list[str | None]:
        """The hosts with a live namespace object."""
        return list(self._by_host)
