"""dynamic-io-asgi: virtual hosts and on-demand, self-retiring Socket.IO namespaces
for python-socketio, as a pure ASGI middleware."""

from ._hosts import BadHost, normalize_host
from ._middleware import DynamicIO, NamespaceRejected
from ._namespace import DynamicNamespace, NamespaceClosed

__all__ = [
    "BadHost",
    "DynamicIO",
    "DynamicNamespace",
    "NamespaceClosed",
    "NamespaceRejected",
    "normalize_host",
]
__version__ = "0.1.0"
