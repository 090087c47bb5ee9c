"""A local YouTube Data API v3 speaking the wire format of `liveChatMessages.list`,
`liveChatMessages.streamList`, `videos.list?part=liveStreamingDetails`,
`search.list?eventType=live` and `liveBroadcasts.list?broadcastStatus=active&mine=true` (the
channel's live now), and Google's OAuth 2.0 token endpoint, with failures a test can script.

Page tokens are the index of the next message, so a client resuming with a saved token gets
exactly the messages after it, as the real API promises.

streamList (developers.google.com/youtube/v3/live/docs/liveChatMessages/streamList): a
server-streamed RPC; over REST its answer is one JSON array of LiveChatMessageListResponse
objects written as messages come, each with a `nextPageToken`; the server closes the stream
after a while (about 10 s at YouTube, `stream_frames` responses here) and the client reconnects
with the last token. Quota (developers.google.com/youtube/v3/determine_quota_cost): a
liveChatMessages call costs 5 units, videos.list 1; `units` adds them up.

The token endpoint answers the refresh_token grant (developers.google.com/identity/protocols/
oauth2/web-server#offline) with a new access token that expires after `token_lifetime` seconds
(3,599 at Google, compressed by tests); an expired token gets 401 authError.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "test-api-key"
OAUTH_TOKEN = "test-oauth-token"
CLIENT_ID = "123-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"
REFRESH_TOKEN = "1//test-refresh-token"

# One scripted failure per chat request, in order ("ok" for none; then requests succeed again).
FAILURES = (
    "500",  # backendError
    "drop",  # connection closed mid-body
    "rate",  # 403 rateLimitExceeded
    "quota",  # 403 quotaExceeded
    "expired",  # 401 authError (OAuth token expired)
    "not_found",  # 404 liveChatNotFound
    "garbage",  # 200 with a body that is not JSON
    "overlap",  # the page starts two messages early: they arrive twice
)


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def text_message(
    msg_id: str, text: str, ts: float, channel: str = "UCviewer", name: str = "Viewer"
) -> dict[str, Any]:
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}",
        "id": msg_id,
        "snippet": {
            "type": "textMessageEvent",
            "liveChatId": "",
            "authorChannelId": channel,
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": True,
            "displayMessage": text,
            "textMessageDetails": {"messageText": text},
        },
        "authorDetails": {
            "channelId": channel,
            "channelUrl": f"http://www.youtube.com/channel/{channel}",
            "displayName": name,
            "profileImageUrl": "https://yt3.ggpht.example/photo.jpg",
            "isVerified": False,
            "isChatOwner": False,
            "isChatSponsor": False,
            "isChatModerator": False,
        },
    }


def owner_message(msg_id: str, text: str, ts: float) -> dict[str, Any]:
    """A message by the channel owner: the host talking."""
    message = text_message(msg_id, text, ts, "UCowner", "Chủ kênh")
    message["authorDetails"]["isChatOwner"] = True
    return message


def moderator_message(msg_id: str, text: str, ts: float) -> dict[str, Any]:
    message = text_message(msg_id, text, ts, "UCmoderator", "Mod")
    message["authorDetails"]["isChatModerator"] = True
    return message


def retracted_message(msg_id: str, retracted_id: str, ts: float, channel: str) -> dict[str, Any]:
    """The author of `retracted_id` took it back (the event's author is that viewer)."""
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}",
        "id": msg_id,
        "snippet": {
            "type": "messageRetractedEvent",
            "liveChatId": "",
            "authorChannelId": channel,
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": False,
            "messageRetractedDetails": {"retractedMessageId": retracted_id},
        },
        "authorDetails": {"channelId": channel, "displayName": "Viewer"},
    }


def tombstone(msg_id: str, ts: float) -> dict[str, Any]:
    """What is left of a message that is gone: its id, no content."""
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}-t",
        "id": msg_id,
        "snippet": {
            "type": "tombstone",
            "liveChatId": "",
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": False,
        },
    }


def user_banned(msg_id: str, channel: str, ts: float, permanent: bool = True) -> dict[str, Any]:
    details: dict[str, Any] = {
        "bannedUserDetails": {"channelId": channel, "displayName": "Spam"},
        "banType": "permanent" if permanent else "temporary",
    }
    if not permanent:
        details["banDurationSeconds"] = 300
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}",
        "id": msg_id,
        "snippet": {
            "type": "userBannedEvent",
            "liveChatId": "",
            "authorChannelId": "UCmoderator",
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": True,
            "displayMessage": "Spam has been banned",
            "userBannedDetails": details,
        },
        "authorDetails": {"channelId": "UCmoderator", "displayName": "Mod"},
    }


def deleted_message(msg_id: str, deleted_id: str, ts: float) -> dict[str, Any]:
    """A moderator removed `deleted_id` (the event's author is the moderator)."""
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}",
        "id": msg_id,
        "snippet": {
            "type": "messageDeletedEvent",
            "liveChatId": "",
            "authorChannelId": "UCmoderator",
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": False,
            "deletedMessageDetails": {"deletedMessageId": deleted_id},
        },
        "authorDetails": {"channelId": "UCmoderator", "displayName": "Mod"},
    }


def chat_ended(msg_id: str, ts: float) -> dict[str, Any]:
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{msg_id}",
        "id": msg_id,
        "snippet": {
            "type": "chatEndedEvent",
            "liveChatId": "",
            "authorChannelId": "UCowner",
            "publishedAt": rfc3339(ts),
            "hasDisplayContent": False,
        },
        "authorDetails": {"channelId": "UCowner", "displayName": "Owner"},
    }


def api_error(
    status: int, reason: str, message: str, domain: str = "youtube.liveChat"
) -> web.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    if status == 401:
        body["error"]["status"] = "UNAUTHENTICATED"
    elif status == 403:
        body["error"]["status"] = "PERMISSION_DENIED"
    return web.json_response(body, status=status)


@dataclass
class FakeYouTube:
    video_id: str = "vid123"
    channel_id: str = "UCshopkiman"
    live_chat_id: str = "chat-abc"
    page_size: int = 3
    polling_interval_ms: int = 5
    viewers: int = 42
    messages: list[dict[str, Any]] = field(default_factory=list)
    ended_at: float | None = None  # the broadcast's actualEndTime
    chat_gone: str | None = None  # a 403/404 reason every chat request answers with
    failures: deque[str] = field(default_factory=deque)
    requests: list[dict[str, str]] = field(default_factory=list)
    video_requests: int = 0
    stream_supported: bool = True
    stream_frames: int = 3  # responses per streamList connection before the server closes it
    stream_requests: int = 0
    token_lifetime: float = 3599.0
    tokens: dict[str, float] = field(default_factory=dict)  # issued access token -> expiry
    refreshes: int = 0
    token_down: bool = False  # the token endpoint answers 503 (Google having an outage)
    units: int = 0
    posted: list[str] = field(default_factory=list)
    server: TestServer | None = None
    url: str = ""
    _issued: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/liveChat/messages", self.chat_messages)
        app.router.add_post("/liveChat/messages", self.insert)
        app.router.add_get("/liveChat/messages/stream", self.stream_list)
        app.router.add_get("/videos", self.videos)
        app.router.add_get("/search", self.search)
        app.router.add_get("/liveBroadcasts", self.live_broadcasts)
        app.router.add_post("/token", self.token)
        return app

    async def insert(self, request: web.Request) -> web.Response:
        self.units += 50
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not (bearer == OAUTH_TOKEN or self.tokens.get(bearer, 0.0) > time.monotonic()):
            return api_error(401, "authError", "Login Required.", "global")
        body = await request.json()
        snippet = body.get("snippet", {})
        text = snippet.get("textMessageDetails", {}).get("messageText")
        if snippet.get("liveChatId") != self.live_chat_id:
            return api_error(404, "liveChatNotFound", "The live chat cannot be found.")
        if snippet.get("type") != "textMessageEvent" or not text or len(text) > 200:
            return api_error(400, "messageTextInvalid", "The message text is invalid.")
        self.posted.append(text)
        message = text_message(f"posted{len(self.posted)}", text, time.time(), "UCowner", "Shop")
        return web.json_response(message)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.token_down:
            body = {"error": "temporarily_unavailable", "error_description": "Try again later."}
            return web.json_response(body, status=503)
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
            body = {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
            return web.json_response(body, status=400)
        self.refreshes += 1
        access = f"ya29.test-{next(self._issued)}"
        self.tokens[access] = time.monotonic() + self.token_lifetime
        return web.json_response(
            {
                "access_token": access,
                "expires_in": self.token_lifetime,
                "scope": "https://www.googleapis.com/auth/youtube.readonly",
                "token_type": "Bearer",
            }
        )

    async def start(self) -> str:
        self.server = TestServer(self.app(), host="127.0.0.1", port=0)
        await self.server.start_server()
        self.url = str(self.server.make_url("")).rstrip("/")
        return self.url

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def _authorised(self, request: web.Request) -> web.Response | None:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer == OAUTH_TOKEN or self.tokens.get(bearer, 0.0) > time.monotonic():
            return None
        if request.query.get("key") == API_KEY:
            return None
        if "Authorization" in request.headers:
            return api_error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                domain="global",
            )
        response = api_error(
            400, "badRequest", "API key not valid. Please pass a valid API key.", "global"
        )
        body = json.loads(response.text or "{}")
        body["error"]["status"] = "INVALID_ARGUMENT"
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "youtube.googleapis.com"},
            }
        ]
        return web.json_response(body, status=400)

    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.query))
        self.units += 5
        if (denied := self._authorised(request)) is not None:
            return denied
        failure = self.failures.popleft() if self.failures else None
        if failure not in (None, "ok", "overlap"):
            return await self._fail(request, str(failure))
        refused = self._chat_refusal(request)
        if refused is not None:
            return refused
        body = self._page(request, failure == "overlap")
        return web.json_response(body)

    async def stream_list(self, request: web.Request) -> web.StreamResponse:
        """A server stream: one JSON array, a response per frame, closed after a few."""
        self.stream_requests += 1
        self.units += 5
        if not self.stream_supported:
            return web.Response(status=404, text="<html>404 Not Found</html>")
        self.requests.append(dict(request.query))
        if (denied := self._authorised(request)) is not None:
            return denied
        failure = self.failures.popleft() if self.failures else None
        if failure not in (None, "ok", "overlap"):
            return await self._fail(request, str(failure))
        refused = self._chat_refusal(request)
        if refused is not None:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[")
        token = request.query.get("pageToken", "t0")
        for frame in range(self.stream_frames):
            body = self._page(request, failure == "overlap" and frame == 0, token)
            token = body["nextPageToken"]
            text = json.dumps(body, ensure_ascii=False, indent=1)
            data = (",\n" if frame else "") + text
            half = len(data) // 2  # frames arrive in pieces, as over a real network
            await response.write(data[:half].encode())
            await asyncio.sleep(0.001)
            await response.write(data[half:].encode())
            if not body["items"]:
                await asyncio.sleep(0.005)
        await response.write(b"]")
        await response.write_eof()
        return response

    def _chat_refusal(self, request: web.Request) -> web.Response | None:
        if request.query.get("liveChatId") != self.live_chat_id:
            return api_error(
                404,
                "liveChatNotFound",
                "The live chat that you are trying to retrieve cannot be found.",
            )
        if request.query.get("part") != "id,snippet,authorDetails":
            return api_error(400, "invalidValue", "part", "global")
        if self.chat_gone == "liveChatEnded":
            return api_error(403, "liveChatEnded", "The live chat is no longer live.")
        if self.chat_gone == "liveChatDisabled":
            return api_error(
                403, "liveChatDisabled", "Live chat is not enabled for the specified broadcast."
            )
        return None

    def _page(
        self, request: web.Request, overlap: bool, token: str | None = None
    ) -> dict[str, Any]:
        token = token or request.query.get("pageToken", "t0")
        start = int(token.removeprefix("t"))
        if overlap:
            start = max(0, start - 2)
        limit = min(self.page_size, int(request.query.get("maxResults", "500")))
        items = self.messages[start : start + limit]
        body: dict[str, Any] = {
            "kind": "youtube#liveChatMessageListResponse",
            "etag": f"etag-page-{start}",
            "pollingIntervalMillis": self.polling_interval_ms,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            "nextPageToken": f"t{start + len(items)}",
            "items": [
                {**m, "snippet": {**m["snippet"], "liveChatId": self.live_chat_id}} for m in items
            ],
        }
        if self.ended_at is not None:
            body["offlineAt"] = rfc3339(self.ended_at)
        return body

    async def search(self, request: web.Request) -> web.StreamResponse:
        """search.list?channelId&eventType=live&type=video: the channel's live video, if any."""
        if (denied := self._authorised(request)) is not None:
            return denied
        q = request.query
        live = q.get("eventType") == "live" and q.get("type") == "video"
        found = live and q.get("channelId") == self.channel_id and self.ended_at is None
        items = [
            {
                "kind": "youtube#searchResult",
                "id": {"kind": "youtube#video", "videoId": self.video_id},
            }
        ]
        return web.json_response(
            {"kind": "youtube#searchListResponse", "items": items if found else []}
        )

    async def live_broadcasts(self, request: web.Request) -> web.StreamResponse:
        """liveBroadcasts.list?broadcastStatus=active&mine=true (OAuth only)."""
        self.units += 1
        if "Authorization" not in request.headers:
            return api_error(401, "authError", "Login Required.", "global")
        if (denied := self._authorised(request)) is not None:
            return denied
        q = request.query
        active = q.get("broadcastStatus") == "active" and q.get("mine") == "true"
        item = {
            "kind": "youtube#liveBroadcast",
            "id": self.video_id,
            "snippet": {"liveChatId": self.live_chat_id},
        }
        found = active and self.ended_at is None
        return web.json_response(
            {"kind": "youtube#liveBroadcastListResponse", "items": [item] if found else []}
        )

    async def videos(self, request: web.Request) -> web.StreamResponse:
        self.video_requests += 1
        self.units += 1
        if (denied := self._authorised(request)) is not None:
            return denied
        if request.query.get("id") != self.video_id:
            return web.json_response(
                {"kind": "youtube#videoListResponse", "items": [], "pageInfo": {"totalResults": 0}}
            )
        details: dict[str, Any] = {"actualStartTime": rfc3339(1_714_560_000.0)}
        if self.ended_at is None:
            details["concurrentViewers"] = str(self.viewers)
            details["activeLiveChatId"] = self.live_chat_id
        else:
            details["actualEndTime"] = rfc3339(self.ended_at)
        return web.json_response(
            {
                "kind": "youtube#videoListResponse",
                "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
                "items": [
                    {
                        "kind": "youtube#video",
                        "id": self.video_id,
                        "liveStreamingDetails": details,
                    }
                ],
            }
        )

    async def _fail(self, request: web.Request, kind: str) -> web.StreamResponse:
        if kind == "500":
            return api_error(500, "backendError", "Backend Error", "global")
        if kind == "rate":
            return api_error(
                403, "rateLimitExceeded", "The request was sent too soon after the previous one."
            )
        if kind == "quota":
            return api_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                domain="youtube.quota",
            )
        if kind == "expired":
            return api_error(
                401, "authError", "Request had invalid authentication credentials.", "global"
            )
        if kind == "not_found":
            return api_error(
                404,
                "liveChatNotFound",
                "The live chat that you are trying to retrieve cannot be found.",
            )
        if kind == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        assert kind == "drop", kind
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b'{"kind": "youtube#liveChatMessageListRe')
        assert request.transport is not None
        request.transport.close()
        return response
