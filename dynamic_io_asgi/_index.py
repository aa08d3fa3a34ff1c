"""The registry's live namespace objects: by full name, and by host."""

from __future__ import annotations

from ._namespace import DynamicNamespace

__all__ = ["NamespaceIndex"]


class NamespaceIndex(dict[str, DynamicNamespace]):
    """The live namespace objects by full name (a dict), also kept by host, so that a
    view of one host (the status page's) costs that host's namespaces, not all."""

    def __init__(self) -> None:
        super().__init__()
        self._by_host: dict[str | None, dict[str, DynamicNamespace]] = {}

    def add(self, nsp: DynamicNamespace) -> None:
        self[nsp.fullname] = nsp
        self._by_host.setdefault(nsp.host, {})[nsp.fullname] = nsp

    def remove(self, nsp: DynamicNamespace) -> None:
        del self[nsp.fullname]
        of_host = self._by_host[nsp.host]
        del of_host[nsp.fullname]
        if not of_host:
            del self._by_host[nsp.host]

    def of_host(self, host: str | None) -> dict[str, DynamicNamespace]:
        """The namespace objects of ``host`` by full name (not a copy: don't change it)."""
        return self._by_host.get(host, {})

    def hosts(self) -> list[str | None]:
        """The hosts with a live namespace object."""
        return list(self._by_host)
