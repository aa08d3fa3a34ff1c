"""The options' checks (``_options``): each bad value is an error naming its option."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from dynamic_io_asgi import _options


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_a_bad_limit(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="^max_namespaces: "):
        _options.limit("max_namespaces", value)


def test_limits_and_durations_as_used() -> None:
    assert _options.limit("x", None) is None and _options.limit("x", 3) == 3
    assert _options.seconds("retirement", None) == math.inf
    assert _options.seconds("retirement", 0) == 0.0
    assert _options.setup_timeout(None) is None and _options.setup_timeout(2) == 2.0


def test_the_limits_each_checked_by_its_own_name() -> None:
    assert _options.limits(max_namespaces=None, max_connects_per_second=8) == {
        "max_namespaces": None,
        "max_connects_per_second": 8.0,
    }
    with pytest.raises(ValueError, match="^max_connects_per_second: "):
        _options.limits(max_namespaces=3, max_connects_per_second=0)
    with pytest.raises(TypeError, match="^max_name_length: "):
        _options.limits(max_name_length=2.5, max_connects_per_second=1.5)


@pytest.mark.parametrize("value", [-1, math.nan, "10", True])
def test_a_bad_duration(value: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="^retirement: "):
        _options.seconds("retirement", value)


def test_a_zero_setup_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="^setup_timeout: must be more than 0"):
        _options.setup_timeout(0)


@pytest.mark.parametrize(
    ("host", "yes", "no"),
    [
        (None, ["a.test"], []),
        ("*", ["a.test"], []),
        (True, [], ["a.test"]),
        ("Main.Test:8000", ["main.test"], ["a.test"]),
        (["localhost", "127.0.0.1"], ["localhost", "127.0.0.1"], ["a.test"]),
        (re.compile(r"\.main\.test$"), ["x.main.test"], ["main.test"]),
    ],
)
def test_the_main_host(host: Any, yes: list[str], no: list[str]) -> None:
    is_main = _options.main_host_matcher(host)
    assert all(map(is_main, yes)) and not any(map(is_main, no))


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("http://main.test", ValueError),
        ("bad host", ValueError),
        ([], TypeError),
        ([1], TypeError),
        (42, TypeError),
        (b"main.test", TypeError),
    ],
)
def test_a_bad_main_host(host: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="^host: "):
        _options.main_host_matcher(host)


def test_switches_and_folders(tmp_path: Path) -> None:
    assert _options.switch("public_status", True) is True
    assert _options.switch("public_status", print) is print
    with pytest.raises(TypeError, match="^public_status: "):
        _options.switch("public_status", "yes")
    assert _options.templates_folder(tmp_path) == tmp_path
    with pytest.raises(ValueError, match="^templates: "):
        _options.templates_folder(tmp_path / "missing")
    with pytest.raises(TypeError, match="^templates: "):
        _options.templates_folder(42)


@pytest.mark.parametrize(
    ("value", "path"), [(None, "/socket.io/"), ("ws", "/ws/"), ("/a/b/", "/a/b/")]
)
def test_the_socketio_path(value: Any, path: str) -> None:
    assert _options.socketio_path(value, object()) == path


def test_a_bad_socketio_path() -> None:
    with pytest.raises(TypeError, match="^socketio_path: "):
        _options.socketio_path(b"/ws", object())  # type: ignore[arg-type]
