"""Prometheus metrics at ``<socketio_path>metrics``, scraped from a real uvicorn server
and parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import prometheus_client
import pytest
import socketio
from _helpers import TIMEOUT, client, serve
from _raw import build_request, exchange
from prometheus_client.parser import text_string_to_metric_families

from dynamic_io_asgi import DynamicIO, DynamicNamespace

MAIN = "main.test"
FAMILIES = {
    "dynamicio_namespaces",
    "dynamicio_hosts",
    "dynamicio_sockets",
    "dynamicio_engineio_sessions",
    "dynamicio_namespaces_created",
    "dynamicio_namespaces_retired",
    "dynamicio_connects_refused",
    "dynamicio_setup_seconds",
    "dynamicio_retirement_delay_seconds",
}


def make_app(**options: Any) -> DynamicIO:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.1, **options)

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> bool:
        return nsp.name != "/refuse"

    return app


async def scrape(url: str, path: str = "/socket.io/metrics") -> tuple[int, dict[str, Any]]:
    request = build_request("GET", path, [(b"Host", MAIN.encode()), (b"Connection", b"close")])
    response = await exchange(url, request)
    if response.status != 200:
        return response.status, {}
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items()))
            samples[key] = sample.value
    return 200, samples


async def test_metrics_follow_creation_refusal_and_retirement() -> None:
    app = make_app(metrics=True)
    async with serve(app) as url:
        async with client(url, "alpha.test", namespaces=["/chat"]):
            status, samples = await scrape(url)
            assert status == 200
            for family in FAMILIES:
                assert any(name.startswith(family) for name in samples), family
            assert samples["dynamicio_namespaces"] == 1
            assert samples["dynamicio_hosts"] == 1
            assert samples["dynamicio_sockets"] == 1
            assert samples["dynamicio_engineio_sessions"] == 1
            assert samples["dynamicio_namespaces_created_total"] == 1
            assert samples["dynamicio_setup_seconds_count"] == 1
        c = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await c.connect(
                url,
                headers={"Host": "alpha.test"},
                namespaces=["/refuse"],
                transports=["websocket"],
                wait_timeout=TIMEOUT,
            )
        async with asyncio.timeout(TIMEOUT):
            while app.retired < 1:
                await asyncio.sleep(0.02)
        _, samples = await scrape(url)
        assert samples["dynamicio_connects_refused_total{reason=invalid}"] == 1
        assert samples["dynamicio_connects_refused_total{reason=limit}"] == 0
        assert samples["dynamicio_namespaces_retired_total"] >= 1
        assert samples["dynamicio_retirement_delay_seconds_count"] >= 1
        assert samples["dynamicio_retirement_delay_seconds_bucket{le=+Inf}"] >= 1


async def test_metrics_are_authorised_like_the_status_page() -> None:
    seen: list[str] = []

    async def only_internal(scope: dict[str, Any]) -> bool:
        seen.append(scope["path"])
        return False

    async with serve(make_app(metrics=only_internal)) as url:
        assert (await scrape(url))[0] == 404
    assert seen == ["/socket.io/metrics"]
    async with serve(make_app()) as url:  # off: the path is the wrapped app's
        assert (await scrape(url))[0] == 400  # python-engineio: not an Engine.IO request


def test_the_collector_goes_into_the_applications_registry() -> None:
    app = make_app()
    registry = prometheus_client.CollectorRegistry()
    registry.register(app.metrics_collector())
    text = prometheus_client.generate_latest(registry).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names == {name.removesuffix("_total") for name in FAMILIES}, names


def test_metrics_need_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ValueError, match=r"metrics: needs prometheus_client"):
        make_app(metrics=True)
    with pytest.raises(TypeError, match="metrics"):
        make_app(metrics="yes")
