"""Measuring what a widget sends to the front end: every message through its comm, sized as
the kernel would put it on the wire (a signed Jupyter ``comm_msg`` with a parent header)."""

from __future__ import annotations

import json
from typing import Any

from jupyter_client.session import Session


class CommTap:
    """Records each message ``widget`` sends from now on (trait updates and custom ones)."""

    def __init__(self, widget: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        self._session = Session(key=b"k" * 64)  # a signed message, as a kernel sends it
        self._parent = self._session.msg_header("execute_request")
        self._comm_id = widget.comm.comm_id
        original = widget.comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            self.messages.append(data)
            original(data=data, metadata=metadata, buffers=buffers)

        widget.comm.send = send

    def clear(self) -> None:
        self.messages.clear()

    def wire_bytes(self, data: dict[str, Any]) -> int:
        message = self._session.msg("comm_msg", {"comm_id": self._comm_id, "data": data},
                                    parent={"header": self._parent})
        return sum(len(frame) for frame in self._session.serialize(message))

    def total_bytes(self) -> int:
        return sum(self.wire_bytes(m) for m in self.messages)

    def content_bytes(self) -> int:
        return sum(len(json.dumps(m)) for m in self.messages)

    def custom(self, kind: str) -> list[dict[str, Any]]:
        """The custom messages of one type ("rows", "reset", "synced")."""
        return [m["content"] for m in self.messages
                if m.get("method") == "custom" and m["content"].get("type") == kind]
