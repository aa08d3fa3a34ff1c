"""Prometheus metrics (docs/design.md §10): a collector that reads the middleware's
state at scrape time, and the histograms the registry feeds.

``prometheus_client`` is an optional extra (``pip install dynamic-io-asgi[metrics]``),
imported only when a collector is made. Nothing here is labelled by host: a
multi-tenant server has too many hosts for a label each.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ._asgi import Scope, Send, authorised, respond

__all__ = ["Histogram", "MetricsCollector", "MetricsEndpoint", "MetricsSource"]

#: Bucket bounds (seconds) of both histograms.
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Observations counted into :data:`BUCKETS` (cumulative at export), and their sum."""

    __slots__ = ("counts", "total", "count")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one: above every bound
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.count += 1

    def buckets(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` pairs, ``+Inf`` last, as Prometheus wants them."""
        result, running = [], 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            result.append((bound, running))
        return result


class MetricsSource(Protocol):
    """What the collector reads of the middleware."""

    sio: Any
    #: The ``metrics`` option: whether (or for whom) the endpoint answers.
    metrics: bool | Callable[[Scope], Any]

    @property
    def registry(self) -> Any: ...


class MetricsCollector:
    """A ``prometheus_client`` collector of one middleware's state.

    Register it in the application's own registry
    (``prometheus_client.REGISTRY.register(app.metrics_collector())``), or let the
    middleware serve it at ``<socketio_path>metrics`` (``metrics=True``)."""

    def __init__(self, source: MetricsSource) -> None:
        from prometheus_client import metrics_core

        self._core = metrics_core
        self.source = source

    def describe(self) -> list[Any]:
        return []  # collected at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Any]:
        core, registry, sio = self._core, self.source.registry, self.source.sio
        yield core.GaugeMetricFamily(
            "dynamicio_namespaces", "Live namespace objects.", value=len(registry.index)
        )
        yield core.GaugeMetricFamily(
            "dynamicio_hosts",
            "Hosts with at least one live namespace object.",
            value=len(registry.index.hosts()),
        )
        yield core.GaugeMetricFamily(
            "dynamicio_sockets",
            "Sockets connected to a namespace (in this process).",
            value=sum(len(room.get(None, ())) for room in list(sio.manager.rooms.values())),
        )
        yield core.GaugeMetricFamily(
            "dynamicio_engineio_sessions", "Open Engine.IO sessions.", value=len(sio.eio.sockets)
        )
        yield core.CounterMetricFamily(
            "dynamicio_namespaces_created", "Namespaces created.", value=registry.created
        )
        yield core.CounterMetricFamily(
            "dynamicio_namespaces_retired", "Namespaces retired.", value=registry.retired
        )
        refused = core.CounterMetricFamily(
            "dynamicio_connects_refused", "CONNECTs refused, by reason.", labels=["reason"]
        )
        for reason, count in registry.refused.items():
            refused.add_metric([reason], count)
        yield refused
        for name, documentation, histogram in (
            ("dynamicio_setup_seconds", "Time setup callbacks took.", registry.setup_seconds),
            (
                "dynamicio_retirement_delay_seconds",
                "How long after its deadline a namespace was deleted.",
                registry.retirement_delay,
            ),
        ):
            yield core.HistogramMetricFamily(
                name, documentation, buckets=histogram.buckets(), sum_value=histogram.total
            )


class MetricsEndpoint:
    """``<socketio_path>metrics``: the collector of one middleware in the Prometheus
    text format, served while the middleware's ``metrics`` option says so."""

    def __init__(self, source: MetricsSource) -> None:
        self.source = source
        self.registry: Any = None  # made at the first scrape

    def _start(self) -> None:
        import prometheus_client  # the optional extra (DynamicIO checked it is there)

        self._client = prometheus_client
        self.registry = prometheus_client.CollectorRegistry(auto_describe=False)
        self.registry.register(MetricsCollector(self.source))
        # respond() adds the charset that CONTENT_TYPE_LATEST ends with.
        self._content_type = prometheus_client.CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")

    async def serve(self, scope: Scope, send: Send) -> None:
        """Answer a scrape: 404 unless authorised, 405 unless GET or HEAD."""
        if self.registry is None:
            self._start()
        if not await authorised(self.source.metrics, scope, "metrics"):
            await respond(send, 404, b"Not Found")
            return
        method = scope.get("method")
        if method not in ("GET", "HEAD"):
            await respond(send, 405, b"Method Not Allowed", extra=[(b"allow", b"GET, HEAD")])
            return
        body = self._client.generate_latest(self.registry)
        await respond(send, 200, body, self._content_type, head=method == "HEAD")
