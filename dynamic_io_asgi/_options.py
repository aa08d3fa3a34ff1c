"""The middleware's options, checked once: a clear ``TypeError`` or ``ValueError``
naming the option for a bad value, the value as the middleware uses it otherwise."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection
from typing import Any

import socketio
from socketio.packet import Packet

from ._hosts import BadHost, normalize_host

__all__ = [
    "HostOption",
    "KeptBy",
    "app_and_server",
    "limit",
    "main_host_matcher",
    "metrics",
    "rate",
    "seconds",
    "serializer_is_msgpack",
    "setup_timeout",
    "socketio_path",
    "switch",
    "templates_folder",
]

HostOption = str | re.Pattern[str] | bool | Collection[str] | None


def app_and_server(app: Any, sio: Any) -> tuple[Any, socketio.AsyncServer]:
    """The ASGI app to wrap and its ``socketio.AsyncServer``."""
    if isinstance(app, socketio.AsyncServer):
        app = socketio.ASGIApp(app)
    if not callable(app):
        raise TypeError("app: pass an ASGI app (a socketio.ASGIApp) or a socketio.AsyncServer")
    if sio is None:
        sio = getattr(app, "engineio_server", None)
        if not isinstance(sio, socketio.AsyncServer):
            raise TypeError(
                "sio: app is not a socketio.ASGIApp; pass its socketio.AsyncServer as sio"
            )
    if not isinstance(sio, socketio.AsyncServer):
        raise TypeError("sio: must be a socketio.AsyncServer")
    if sio.async_mode != "asgi":
        raise ValueError(f"sio: async_mode must be 'asgi', not {sio.async_mode!r}")
    return app, sio


def serializer_is_msgpack(packet_class: type) -> bool:
    """Whether the server's serializer is msgpack (the default one: ``False``)."""
    if packet_class is Packet:
        return False
    try:
        from socketio.msgpack_packet import MsgPackPacket
    except ImportError:  # msgpack is not installed, so the class can't be it
        MsgPackPacket = None  # noqa: N806
    if MsgPackPacket is not None and issubclass(packet_class, MsgPackPacket):
        return True
    raise ValueError(
        f"sio: serializer {packet_class.__name__} is not supported; use the default or 'msgpack'"
    )


def socketio_path(value: str | None, app: Any) -> str:
    """The Engine.IO path, ``"/socket.io/"`` style: the option, the app's, or the default."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"socketio_path: pass a string such as '/socket.io/', not {value!r}")
    path = value or getattr(app, "engineio_path", None) or "/socket.io/"
    return "/" + path.strip("/") + "/"


def main_host_matcher(host: HostOption) -> Callable[[str], bool]:
    """Whether a normalised host name is the main host, for the ``host`` option."""
    if host is None or host == "*":
        return lambda name: True
    if host is True:
        return lambda name: False
    if isinstance(host, re.Pattern):
        return lambda name: host.search(name) is not None
    if isinstance(host, str):
        main = _main_host_name(host)
        return lambda name: name == main
    if isinstance(host, Collection) and not isinstance(host, (bytes, bytearray)):
        if not host or not all(isinstance(name, str) for name in host):
            raise TypeError(f"host: a collection of host names must hold strings, not {host!r}")
        names = frozenset(_main_host_name(name) for name in host)
        return names.__contains__
    raise TypeError(
        "host: pass None, '*', a host name, a collection of host names, a compiled regex"
        f" or True, not {host!r}"
    )


def _main_host_name(host: str) -> str:
    if "://" in host or host.startswith("/"):
        raise ValueError(f"host: expected a host name such as 'example.com', not a URL: {host!r}")
    try:
        return normalize_host(host)
    except BadHost as exc:
        raise ValueError(f"host: {host!r} is not a host name ({exc})") from None


def limit(option: str, value: int | None) -> int | None:
    """A limit: a whole number of at least 1, or ``None`` for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option}: pass a whole number or None (no limit), not {value!r}")
    if value < 1:
        raise ValueError(f"{option}: must be at least 1, or None for no limit; not {value!r}")
    return value


def rate(option: str, value: float | None) -> float | None:
    """A rate: a number more than 0 a second, or ``None`` for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{option}: pass a number a second or None (no limit), not {value!r}")
    if math.isnan(value) or value <= 0 or value == math.inf:
        raise ValueError(f"{option}: must be more than 0 a second, or None; not {value!r}")
    return float(value)


def limits(**values: Any) -> dict[str, Any]:
    """The ``max_*`` options, each checked by name: ``max_connects_per_second`` is a
    :func:`rate`, the others are each a :func:`limit`."""
    return {
        option: rate(option, value) if option.endswith("_per_second") else limit(option, value)
        for option, value in values.items()
    }


def seconds(option: str, value: float | None) -> float:
    """A duration of 0 seconds or more; ``None`` is for ever (``math.inf``)."""
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{option}: pass a number of seconds or None, not {value!r}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{option}: must be >= 0 seconds, not {value!r}")
    return float(value)


def setup_timeout(value: float | None) -> float | None:
    """``setup_timeout``: more than 0 seconds, or ``None`` for no limit."""
    if value is None:
        return None
    value = seconds("setup_timeout", value)
    if value == 0:
        raise ValueError(
            "setup_timeout: must be more than 0 seconds (0 would refuse every async"
            " setup); pass None for no limit"
        )
    return value


def switch(option: str, value: Any) -> bool | Callable[..., Any]:
    """An on/off option that may also be a callable ``(scope) -> bool`` authorising each request."""
    if not (isinstance(value, bool) or callable(value)):
        raise TypeError(f"{option}: pass True, False or a callable (scope) -> bool")
    result: bool | Callable[..., Any] = value
    return result


def metrics(value: Any) -> bool | Callable[..., Any]:
    """``metrics``: as :func:`switch`, and ``prometheus_client`` must be installed to turn it on."""
    result = switch("metrics", value)
    if result:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            raise ValueError(
                "metrics: needs prometheus_client (pip install 'dynamic-io-asgi[metrics]')"
            ) from None
    return result


def templates_folder(value: Any) -> str | os.PathLike[str] | None:
    """``templates``: an existing folder, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"templates: pass the path of a folder, not {value!r}")
    if not os.path.isdir(value):
        raise ValueError(f"templates: {os.fspath(value)!r} is not an existing folder")
    return value


class KeptBy:
    """An option of the middleware kept by one of its parts: ``setup_timeout =
    KeptBy("registry")`` makes ``app.setup_timeout`` ``app.registry.setup_timeout``."""

    def __init__(self, *path: str) -> None:
        self.path = path

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _owner(self, instance: Any) -> Any:
        for name in self.path:
            instance = getattr(instance, name)
        return instance

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return getattr(self._owner(instance), self.name)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(self._owner(instance), self.name, value)
