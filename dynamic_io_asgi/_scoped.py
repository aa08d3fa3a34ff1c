"""python-socketio's API scoped to one namespace: what :class:`DynamicNamespace` adds to
the server's methods, each with ``namespace=`` its :attr:`fullname`."""

from __future__ import annotations

from typing import Any

import socketio

__all__ = ["ScopedAPI"]


class ScopedAPI:
    """The methods of python-socketio that take a namespace, without it."""

    __slots__ = ()

    @property
    def sio(self) -> socketio.AsyncServer:
        raise NotImplementedError

    def _live(self) -> str:
        """The full name, or ``NamespaceClosed`` once the namespace is gone."""
        raise NotImplementedError

    async def emit(self, event: str, data: Any = None, **kwargs: Any) -> None:
        """``sio.emit(event, data, namespace=fullname, ...)``"""
        await self.sio.emit(event, data, namespace=self._live(), **kwargs)

    async def send(self, data: Any, **kwargs: Any) -> None:
        """``sio.send(data, namespace=fullname, ...)``"""
        await self.sio.send(data, namespace=self._live(), **kwargs)

    async def call(self, event: str, data: Any = None, **kwargs: Any) -> Any:
        """``sio.call(event, data, namespace=fullname, ...)``"""
        return await self.sio.call(event, data, namespace=self._live(), **kwargs)

    async def enter_room(self, sid: str, room: str) -> None:
        await self.sio.enter_room(sid, room, namespace=self._live())

    async def leave_room(self, sid: str, room: str) -> None:
        await self.sio.leave_room(sid, room, namespace=self._live())

    async def close_room(self, room: str) -> None:
        await self.sio.close_room(room, namespace=self._live())

    def rooms(self, sid: str) -> list[str]:
        result: list[str] = self.sio.rooms(sid, namespace=self._live())
        return result

    async def disconnect(self, sid: str) -> None:
        await self.sio.disconnect(sid, namespace=self._live())

    async def get_session(self, sid: str) -> Any:
        return await self.sio.get_session(sid, namespace=self._live())

    async def save_session(self, sid: str, session: Any) -> None:
        await self.sio.save_session(sid, session, namespace=self._live())

    def session(self, sid: str) -> Any:
        """``async with nsp.session(sid) as session:`` as in python-socketio."""
        return self.sio.session(sid, namespace=self._live())
