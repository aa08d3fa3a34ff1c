"""Raw Engine.IO v4 / Socket.IO v5 clients for load generation.

python-socketio's ``AsyncClient`` decodes every packet and runs its own
tasks; driving 32 callers with it costs the client about as much CPU as the
server spends, so the client would set the pace on a 2-core machine. These
clients write the text packets by hand over aiohttp (a websocket, or
long-polling GETs plus POSTs) and only look at packet headers, which keeps the
client side cheap. Wire format (text): ``40/ns,`` CONNECT, ``40/ns,{"sid":..}``
its answer, ``42/ns,<id>["echo",<json>]`` an EVENT with an ack id and
``43/ns,<id>[<json>]`` its ACK; the namespace part is left out for ``/``.
Engine.IO pings (``2``) are answered with ``3``.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

PATH = "/socket.io/?EIO=4&transport="


def namespace_part(namespace: str) -> str:
    """The namespace as written in a packet header: nothing for ``/``."""
    return "" if namespace == "/" else namespace + ","


class Client:
    """What both transports share: CONNECT and ack'ed calls over send/receive."""

    def __init__(self) -> None:
        self._acks = 0

    async def send(self, packet: str) -> None:
        raise NotImplementedError

    async def receive(self) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def connect(self, namespace: str) -> None:
        """Send a Socket.IO CONNECT and wait for its answer."""
        head = namespace_part(namespace)
        await self.send("40" + head)
        while True:
            packet = await self.receive()
            if packet.startswith("40" + head + '{"sid"'):
                return
            if packet.startswith("44" + head):
                raise ConnectionError(f"CONNECT to {namespace} refused: {packet}")

    async def disconnect(self, namespace: str) -> None:
        """Leave a namespace (the server sends no answer)."""
        await self.send("41" + namespace_part(namespace))

    async def call(self, namespace: str, event: str, data_json: str) -> str:
        """Emit ``event`` with an ack id and return the ACK packet."""
        self._acks += 1
        head = namespace_part(namespace)
        await self.send(f'42{head}{self._acks}["{event}",{data_json}]')
        expected = f"43{head}{self._acks}["
        while True:
            packet = await self.receive()
            if packet.startswith(expected):
                return packet


class WebSocketClient(Client):
    """A websocket-only Engine.IO session (the websocket request is the handshake)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__()
        self._ws = ws

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, host: str) -> WebSocketClient:
        ws = await http.ws_connect(url + PATH + "websocket", headers={"Host": host})
        client = cls(ws)
        opening = await client.receive()
        if not opening.startswith('0{"sid"'):
            raise ConnectionError(f"unexpected OPEN packet {opening!r}")
        return client

    async def send(self, packet: str) -> None:
        await self._ws.send_str(packet)

    async def receive(self) -> str:
        while True:
            message = await self._ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"websocket closed: {message.type!r}")
            packet: str = message.data
            if packet == "2":
                await self._ws.send_str("3")
                continue
            return packet

    async def close(self) -> None:
        await self._ws.close()


class PollingClient(Client):
    """A polling-only Engine.IO session: one long-poll GET always pending, POSTs to send."""

    def __init__(self, http: aiohttp.ClientSession, url: str, host: str) -> None:
        super().__init__()
        self._http = http
        self._url = url
        self._headers = {"Host": host}
        self._post_headers = {"Host": host, "Content-Type": "text/plain;charset=UTF-8"}
        self._packets: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, host: str) -> PollingClient:
        async with http.get(url + PATH + "polling", headers={"Host": host}) as response:
            body = await response.text()
        if response.status != 200 or not body.startswith('0{"sid"'):
            raise ConnectionError(f"handshake failed: {response.status} {body!r}")
        sid = json.loads(body[1:])["sid"]
        client = cls(http, f"{url}{PATH}polling&sid={sid}", host)
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            while True:
                async with self._http.get(self._url, headers=self._headers) as response:
                    body = await response.text()
                if response.status != 200:
                    return
                for packet in body.split("\x1e"):
                    if packet == "2":
                        await self.send("3")
                    elif packet.startswith("1"):
                        return
                    elif packet != "6":
                        self._packets.put_nowait(packet)
        finally:
            self._packets.put_nowait(None)

    async def send(self, packet: str) -> None:
        async with self._http.post(
            self._url, data=packet.encode(), headers=self._post_headers
        ) as response:
            await response.read()
        if response.status != 200:
            raise ConnectionError(f"POST failed: {response.status}")

    async def receive(self) -> str:
        packet = await self._packets.get()
        if packet is None:
            self._packets.put_nowait(None)
            raise ConnectionError("polling session closed")
        return packet

    async def close(self) -> None:
        try:
            await self.send("1")
        except (ConnectionError, aiohttp.ClientError):
            pass
        # The server answers a client's CLOSE by dropping the session, not by
        # ending the pending GET (that would wait for the ping timeout).
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass


async def open_client(http: aiohttp.ClientSession, url: str, host: str, transport: str) -> Client:
    """An Engine.IO session over ``transport`` (``"websocket"`` or ``"polling"``)."""
    if transport == "websocket":
        return await WebSocketClient.open(http, url, host)
    return await PollingClient.open(http, url, host)


def http_session() -> aiohttp.ClientSession:
    """A client session with no connection limit (32 polling sessions keep 64 requests open)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
