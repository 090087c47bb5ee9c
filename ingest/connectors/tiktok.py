"""TikTok Live through a local bridge: TikTok has no official live-comments API, so a bridge
built on an open-source TikTok live connector forwards the events it receives to chotdon. The
reference bridge is `bridges/tiktok/` (TikTok-Live-Connector for Node, a pinned version); chotdon
listens on

    GET  /ws       a WebSocket: each text frame is one event or a JSON list of events
    POST /events   an HTTP body of one event or a list; answered 202 {"accepted", "duplicates",
                   "rejected"} once the records are emitted (400 lists malformed items)

An event is `{"event": NAME, "data": DATA}` ("type" may stand for "event"), DATA being the
connector's event object as it emits it. Every generation is read, because bridges in the field
run all of them:

    chat      v3 (TikTok-Live-Connector 2.3+, tiktok-live-proto `v3` WebcastChatMessage):
                {"common": {"msgId", "createTime"}, "user": {"idStr", "displayId", "nickname"},
                 "content", "userIdentity": {"isAnchor", "isModeratorOfAnchor", ...}}
              v2: the same with "comment" for the text and "userId"/"uniqueId" for the user;
              v1 (WebcastPushConnection) flattens `common` and `user` into DATA
    roomUser  v3 {"total", "totalUser"} (64-bit integers as strings; `total` is the viewers
              now), v2 {"viewerCount"}
    imDelete  v3 {"deleteMsgIds": [...]}, v2 {"deleteMsgIdsList": [...]}: a moderator deleted them
    streamEnd {"action"}: ControlAction 3 (ended) or 4 (suspended) - the connector emits it for
              those two only (src/lib/client/index.ts, processDecodedData)

The host's own comments (`userIdentity.isAnchor`) are the seller talking, not orders: skipped.
Other events (gifts, likes, members...) are ignored. The connector replays recent chat history
every time the bridge (re)connects (`processInitialData`, on by default): the run loop drops what
it already emitted by msgId, and a comment no newer than the newest seen is marked history.

Sources: github.com/zerodytrash/TikTok-Live-Connector v2.4.3 (src/types/events.ts,
src/lib/client/index.ts) and the `tiktok-live-proto` 0.2.4 type definitions it re-exports
(dist/node/v3.d.ts: WebcastChatMessage, User, UserIdentity, WebcastRoomUserSeqMessage,
WebcastImDeleteMessage; v2.d.ts for the older names).

Only local processes should reach it: it refuses browser requests (any with an Origin header), and
when TIKTOK_BRIDGE_TOKEN is set it requires that token (header `Authorization: Bearer <token>`,
or `?token=` for a WebSocket client that cannot set headers).
"""

from __future__ import annotations

import argparse
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from chotdon.records import Comment, ViewerCount

from .base import ConnectorRecord
from .runner import Accepted, Malformed, Platform
from .webhook import DEFAULT_MAX_BYTES, PushConnector, ShuttingDown, add_listen_arguments

PLATFORM = "tiktok"
TOKEN_ENV = "TIKTOK_BRIDGE_TOKEN"
CHAT, ROOM_USER, IM_DELETE, STREAM_END = "chat", "roomUser", "imDelete", "streamEnd"


class Events:
    """The records of one frame or request, what could not be read, and whether the live ended."""

    def __init__(self) -> None:
        self.records: list[ConnectorRecord] = []
        self.malformed: list[Malformed] = []
        self.rejected: list[dict[str, Any]] = []
        self.ended: str | None = None


class TikTokBridgeConnector(PushConnector):
    platform = PLATFORM

    def __init__(
        self,
        stream: str,
        host: str,
        port: int,
        *,
        token: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(stream, host, port, max_bytes=max_bytes)
        self.token = token
        self.clock = clock
        self.last_ts = 0.0  # the newest comment seen: older ones are a replayed history
        self._sockets: set[web.WebSocketResponse] = set()

    def restore(self, state: Mapping[str, Any]) -> None:
        last_ts = state.get("last_ts")
        self.last_ts = float(last_ts) if isinstance(last_ts, int | float) else 0.0

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/events", self.post)
        app.on_shutdown.append(self._close_sockets)

    async def _close_sockets(self, app: web.Application) -> None:
        """On shutdown, before the server waits for its handlers: a bridge socket never ends by
        itself."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"chotdon stops")

    def _refusal(self, request: web.Request) -> web.Response | None:
        if "Origin" in request.headers:  # a web page, not the bridge: no cross-site injection
            self.note_error("auth", f"refused a request from origin {request.headers['Origin']!r}")
            return web.json_response({"error": "browser requests are refused"}, status=403)
        if self.token is None:
            return None
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        given = given or request.query.get("token", "")
        if hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        self.note_error("auth", "refused a bridge request: wrong or missing token")
        return web.json_response({"error": "wrong or missing token"}, status=401)

    async def post(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        body = await request.read()
        events = self.read(body)
        try:
            accepted = await self._submit(events)
        except ShuttingDown:
            return web.json_response({"error": "shutting down, retry"}, status=503)
        if events.malformed and not events.rejected:  # the body itself was unreadable
            return web.json_response({"error": events.malformed[0].reason}, status=400)
        answer = {
            "accepted": accepted.emitted,
            "duplicates": accepted.duplicates,
            "rejected": events.rejected,
        }
        return web.json_response(answer, status=400 if events.rejected else 202)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refusal(request)) is not None:
            return refused
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=self.max_bytes)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                data = message.data if message.type == WSMsgType.TEXT else bytes(message.data)
                try:
                    await self._submit(self.read(data))
                except ShuttingDown:
                    break
        finally:
            self._sockets.discard(ws)
        await ws.close()
        return ws

    async def _submit(self, events: Events) -> Accepted:
        accepted = await self.submit(events.records, events.malformed, {"last_ts": self.last_ts})
        if events.ended:
            self.end(events.ended)  # after this request's records are out
        return accepted

    def read(self, body: str | bytes) -> Events:
        """The records in one frame or request body."""
        events = Events()
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raw = body if isinstance(body, str) else body.decode("utf-8", "replace")
            events.malformed.append(Malformed(f"invalid JSON: {exc}", raw))
            return events
        items = payload if isinstance(payload, list) else [payload]
        for index, item in enumerate(items):
            try:
                self._read_event(item, events)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                reason = f"event {index}: {exc!r}"
                events.malformed.append(Malformed(reason, json.dumps(item, ensure_ascii=False)))
                events.rejected.append({"index": index, "error": reason})
        return events

    def _read_event(self, item: Any, events: Events) -> None:
        name = item.get("event") or item.get("type")
        data = item.get("data", item)
        if name == CHAT:
            comment = self._comment(data)
            if comment is not None:
                events.records.append(comment)
        elif name == ROOM_USER:
            viewers = _count(data["total"] if "total" in data else data["viewerCount"])
            ts = self._ts(data.get("common") or data)
            events.records.append(ViewerCount(self.stream, viewers, ts, PLATFORM))
        elif name == IM_DELETE:
            ts = self._ts(data.get("common") or data)
            ids = data["deleteMsgIds"] if "deleteMsgIds" in data else data["deleteMsgIdsList"]
            for msg_id in ids:
                events.records.append(
                    Comment(
                        stream=self.stream,
                        comment_id=_id(msg_id),
                        user_id="",
                        text="",
                        ts=ts,
                        platform=PLATFORM,
                        deleted=True,
                    )
                )
        elif name == STREAM_END:
            events.ended = f"the TikTok live ended (streamEnd, action {data.get('action')!r})"
        elif not isinstance(name, str):
            raise ValueError("no event name")

    def _comment(self, data: Mapping[str, Any]) -> Comment | None:
        """The comment of a chat event (any generation), or None for the host's own."""
        common = data.get("common") or data  # v1 flattens `common` into the event
        user = data.get("user") or data  # ...and `user`
        text = data["content"] if "content" in data else data["comment"]  # v3 / v2
        if not isinstance(text, str):
            raise TypeError(f"the comment is not text: {text!r}")
        ts = self._ts(common)
        identity = data.get("userIdentity") or {}
        if identity.get("isAnchor"):
            return None
        history = ts <= self.last_ts
        self.last_ts = max(self.last_ts, ts)
        handle = user.get("uniqueId") or user.get("displayId")  # the @name, v2 / v3
        return Comment(
            stream=self.stream,
            comment_id=_id(common["msgId"]),
            user_id=_id(user.get("userId") or user.get("idStr") or user.get("id") or handle),
            user_name=str(user.get("nickname") or handle or ""),
            text=text,
            ts=ts,
            platform=PLATFORM,
            history=history,
        )

    def _ts(self, common: Mapping[str, Any]) -> float:
        """createTime is milliseconds (a string, from a 64-bit integer); absent: now."""
        value = common.get("createTime")
        if value in (None, "", "0", 0):
            return self.clock()
        ts = float(value)
        return ts / 1000 if ts > 1e11 else ts


def _count(value: Any) -> int:
    """A viewer count: an int (v2) or a 64-bit integer as a decimal string (v3)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a viewer count: {value!r}")
    return value


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value in ("", 0):
        raise ValueError(f"not an id: {value!r}")
    return str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_listen_arguments(parser, 8091, "the bridge sends events to")


def build(args: argparse.Namespace, env: Mapping[str, str]) -> TikTokBridgeConnector:
    host, port = args.listen
    return TikTokBridgeConnector(
        args.stream, host, port, token=env.get(TOKEN_ENV) or None, max_bytes=args.max_bytes
    )


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="TikTok Live events from a local bridge (WebSocket /ws or POST /events)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
