"""A fake TikTok live bridge: it sends chotdon events in the shapes TikTok-Live-Connector emits,
over the WebSocket or HTTP POST, and replays the room's recent chat on every (re)connect as the
connector does (`processInitialData`, on by default).

Shapes, from the decoded protobuf objects the connector emits (its events are the
`tiktok-live-proto` messages; 64-bit integers become decimal strings):
- v3, TikTok-Live-Connector 2.3+ (2.4.3 read): tiktok-live-proto 0.2.4 dist/node/v3.d.ts -
  WebcastChatMessage {common, user {id, idStr, displayId, nickname, secUid}, content,
  userIdentity {isAnchor, isModeratorOfAnchor, ...}}, WebcastRoomUserSeqMessage {total,
  totalUser, ...}, WebcastImDeleteMessage {deleteMsgIds, deleteUserIds};
- v2 (2.0-2.2): v2.d.ts - `comment`, user {userId, uniqueId}, `viewerCount`, `deleteMsgIdsList`;
- v1 (`WebcastPushConnection`): v2's fields with `common` and `user` flattened into the event.
`streamEnd` is `{action}`, emitted for ControlAction 3 (ended) and 4 (suspended)
(src/lib/client/index.ts).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

T0_MS = 1_714_560_000_000
Generation = Literal[1, 2, 3]


def chat(
    n: int,
    text: str,
    *,
    user: int = 1,
    ms: int | None = None,
    generation: Generation = 3,
    anchor: bool = False,
) -> dict[str, Any]:
    """A `chat` event (a WebcastChatMessage) as the connector of that generation emits it."""
    common = {
        "method": "WebcastChatMessage",
        "msgId": str(7_380_000_000_000_000_000 + n),
        "roomId": "7380123456789012345",
        "createTime": str(ms if ms is not None else T0_MS + 1000 * n),
    }
    user_id = str(6_800_000_000_000_000_000 + user)
    identity = {
        "isGiftGiverOfAnchor": False,
        "isSubscriberOfAnchor": False,
        "isMutualFollowingWithAnchor": False,
        "isFollowerOfAnchor": not anchor,
        "isModeratorOfAnchor": False,
        "isAnchor": anchor,
    }
    if generation == 3:
        who: dict[str, Any] = {
            "id": user_id,
            "idStr": user_id,
            "displayId": f"khach.{user}",
            "nickname": f"Khách {user}",
            "secUid": f"MS4wLjABAAAA{user}",
        }
        data = {"common": common, "user": who, "content": text, "userIdentity": identity}
        return {"event": "chat", "data": {**data, "emotes": [], "visibleToSender": True}}
    who = {
        "userId": user_id,
        "uniqueId": f"khach.{user}",
        "nickname": f"Khách {user}",
        "secUid": f"MS4wLjABAAAA{user}",
    }
    if generation == 1:
        return {"event": "chat", "data": {**common, **who, "comment": text, "emotes": []}}
    return {
        "event": "chat",
        "data": {"common": common, "user": who, "comment": text, "userIdentity": identity},
    }


def msg_id(n: int) -> str:
    return f"tiktok:{7_380_000_000_000_000_000 + n}"


def room_user(viewers: int, *, generation: Generation = 3) -> dict[str, Any]:
    common = {"method": "WebcastRoomUserSeqMessage", "createTime": str(T0_MS)}
    if generation == 3:
        data = {"common": common, "total": str(viewers), "totalUser": str(4 * viewers)}
        return {"event": "roomUser", "data": {**data, "ranks": [], "popStr": str(viewers)}}
    return {
        "event": "roomUser",
        "data": {"common": common, "viewerCount": viewers, "ranksList": []},
    }


def im_delete(*ns: int, generation: Generation = 3) -> dict[str, Any]:
    common = {"method": "WebcastImDeleteMessage", "createTime": str(T0_MS + 500_000)}
    ids = [str(7_380_000_000_000_000_000 + n) for n in ns]
    if generation == 3:
        return {
            "event": "imDelete",
            "data": {"common": common, "deleteMsgIds": ids, "deleteUserIds": []},
        }
    return {
        "event": "imDelete",
        "data": {"common": common, "deleteMsgIdsList": ids, "deleteUserIdsList": []},
    }


def gift() -> dict[str, Any]:
    return {"event": "gift", "data": {"giftId": 5655, "repeatCount": 1, "repeatEnd": True}}


def stream_end() -> dict[str, Any]:
    return {"event": "streamEnd", "data": {"action": 3}}  # CONTROL_ACTION_STREAM_ENDED


@dataclass
class FakeBridge:
    """The bridge's side: `history` is the room's recent chat, replayed on each connect."""

    url: str  # http://host:port of chotdon's listener
    token: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task[None] | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def connect(self, *, query_token: bool = False) -> None:
        """Open the WebSocket and replay the recent chat, as the live connector does."""
        self._http = aiohttp.ClientSession()
        params = {"token": self.token} if query_token and self.token else {}
        headers = {} if query_token else self._headers()
        try:
            self._ws = await self._http.ws_connect(self.url + "/ws", params=params, headers=headers)
        except aiohttp.ClientError:
            await self._http.close()
            raise
        self._reader = asyncio.create_task(self._read(self._ws))
        if self.history:
            await self._ws.send_json(self.history)

    async def send(self, *events: dict[str, Any]) -> None:
        """Live events, one frame each; they join the recent chat a reconnect replays."""
        assert self._ws is not None
        for event in events:
            await self._ws.send_json(event)
            if event["event"] == "chat":
                self.history.append(event)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read what chotdon sends, as a live bridge does: that answers its close frame."""
        async for _ in ws:
            pass

    async def drop(self) -> None:
        """The connection dies (no close frame): the bridge's process restarts, say."""
        assert self._http is not None and self._reader is not None
        self._reader.cancel()
        await self._http.close()
        self._http = self._ws = self._reader = None

    async def post(self, body: Any, *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http:
            hdrs = {**self._headers(), **(headers or {})}
            kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
            async with http.post(self.url + "/events", headers=hdrs, **kwargs) as response:
                return response.status, await response.json()
