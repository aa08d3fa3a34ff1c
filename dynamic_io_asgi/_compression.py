"""Polling compression, taken over from python-engineio.

python-engineio would compress a polling response before the middleware could
rewrite it, so the middleware turns the server's ``http_compression`` off and
compresses after the rewrite, with the server's own settings
(docs/deployment/middleware.md).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from typing import Any

from ._asgi import Message, Scope, without

__all__ = ["COMPRESS", "DECOMPRESS", "compress", "content_encoding", "take_compression"]

DECOMPRESS: dict[str | None, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}
COMPRESS: dict[str | None, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}

#: Where the server's own ``http_compression`` is kept once a middleware took it over.
_HTTP_COMPRESSION = "dynamic_io_asgi_http_compression"


def take_compression(eio: Any) -> bool:
    """Turn python-engineio's polling compression off; whether it was on."""
    compression = bool(getattr(eio, _HTTP_COMPRESSION, eio.http_compression))
    setattr(eio, _HTTP_COMPRESSION, compression)
    eio.http_compression = False
    return compression


def content_encoding(start: Message) -> str | None:
    """The response's Content-Encoding, ``None`` for none or ``identity``."""
    _, values = without(start.get("headers", ()), b"content-encoding")
    encoding = b",".join(values).decode("latin-1").strip().lower()
    return None if encoding in ("", "identity") else encoding


def compress(eio: Any, body: bytes, scope: Scope) -> tuple[bytes, str | None]:
    """``body`` compressed as python-engineio would: with its methods, in the
    order of the request's ``Accept-Encoding``."""
    _, accepted = without(scope["headers"], b"accept-encoding")
    for encoding in b",".join(accepted).decode("latin-1").split(","):
        encoding = encoding.split(";")[0].strip()
        if encoding in eio.compression_methods and encoding in COMPRESS:
            return COMPRESS[encoding](body), encoding
    return body, None
