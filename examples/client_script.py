"""The Socket.IO client script of the examples' pages: a local copy when there is one, else the CDN.

Shared by ``examples/demo/app.py`` and ``examples/multiprocess/app.py`` (each puts this
folder on ``sys.path`` before importing it). A page gets :func:`script_tag`; its app
serves :func:`local_client` at :data:`VENDOR_PATH`. The choice is made at each request:

- ``SOCKETIO_CLIENT_JS=/path/to/socket.io.min.js``: serve that file;
- ``SOCKETIO_CLIENT_JS=cdn``: always the CDN;
- unset: ``tests/js/node_modules/socket.io-client/dist/socket.io.min.js`` if
  ``scripts/bootstrap.sh`` installed it, else the CDN.

A path that is no file also means the CDN.
"""

from __future__ import annotations

import os
from pathlib import Path

LOCAL_CLIENT = (
    Path(__file__).resolve().parent.parent
    / "tests/js/node_modules/socket.io-client/dist/socket.io.min.js"
)
VENDOR_PATH = "/vendor/socket.io.min.js"
LOCAL_TAG = f'<script src="{VENDOR_PATH}"></script>'
CDN_TAG = (
    '<script src="https://cdn.socket.io/4.8.1/socket.io.min.js"'
    ' integrity="sha384-mkQ3/7FUtcGyoppY6bz/PORYoGqOl7/aSUMn2ymDOJcapfS6PHqxhRTMh1RR0Q6+"'
    ' crossorigin="anonymous"></script>'
)


def local_client() -> Path | None:
    """The local Socket.IO client to serve, or ``None`` for the CDN."""
    choice = os.environ.get("SOCKETIO_CLIENT_JS", "")
    if choice == "cdn":
        return None
    path = Path(choice) if choice else LOCAL_CLIENT
    return path if path.is_file() else None


def script_tag() -> str:
    """The ``<script>`` element that loads the client: the local copy's, else the CDN's."""
    return LOCAL_TAG if local_client() else CDN_TAG
