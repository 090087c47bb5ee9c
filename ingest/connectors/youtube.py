"""YouTube Live: the Data API v3 `liveChatMessages.list`, polled at the pace the API asks for.
`chotdon ingest youtube --stream VIDEO_ID` (the id in the live's watch?v= address).

- The live chat is found from the video (`videos.list?part=liveStreamingDetails`
  → `activeLiveChatId`), which also gives the viewers (`concurrentViewers`, a string).
- Each poll passes the last `nextPageToken` and waits `pollingIntervalMillis` before the next:
  polling faster earns `rateLimitExceeded`. The first response of a fresh start is the chat's
  backlog, marked `history`; a restart resumes from its saved page token instead.
- `messageDeletedEvent` (a moderator removed a message) becomes a deletion of that message's
  comment id, undoing its order downstream.
- `chatEndedEvent`, `offlineAt`/`actualEndTime` and the errors `liveChatEnded`,
  `liveChatDisabled`, `liveChatNotFound` end the session; `rateLimitExceeded` backs off;
  `quotaExceeded` and rejected credentials stop with a clear message.

Credentials only from the environment: YOUTUBE_OAUTH_TOKEN (an OAuth 2.0 access token, sent as a
bearer token) or YOUTUBE_API_KEY (enough for public broadcasts). CHOTDON_YOUTUBE_API_URL points
the connector at another server (tests).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from chotdon.config import settings
from chotdon.records import Comment, ViewerCount

from .base import (
    AuthError,
    ConnectorError,
    QuotaExceeded,
    RateLimited,
    SessionEnded,
    TransientError,
)
from .runner import Batch, ConnectorRecord, Malformed, Platform, UsageError

PLATFORM = "youtube"
MAX_RESULTS = 2000  # the API's largest page: fewer polls on a busy chat
PARTS = "id,snippet,authorDetails"
ENDED_REASONS = frozenset({"liveChatEnded", "liveChatDisabled", "liveChatNotFound"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
AUTH_REASONS = frozenset(
    {
        "authError",
        "keyInvalid",
        "keyExpired",
        "forbidden",
        "insufficientPermissions",
        "API_KEY_INVALID",  # google.rpc.ErrorInfo reasons, beside the v3 `errors` list
        "API_KEY_EXPIRED",
        "ACCESS_TOKEN_EXPIRED",
    }
)


class YouTubeConnector:
    platform = PLATFORM

    def __init__(
        self,
        stream: str,
        *,
        video_id: str | None = None,
        live_chat_id: str | None = None,
        api_key: str | None = None,
        oauth_token: str | None = None,
        api_url: str | None = None,
        viewers_every: float = 30.0,
        timeout: float = 30.0,
    ) -> None:
        if not (api_key or oauth_token):
            raise UsageError("YouTube needs YOUTUBE_OAUTH_TOKEN or YOUTUBE_API_KEY")
        self.stream = stream
        self.video_id = video_id or stream
        self.live_chat_id = live_chat_id
        self.api_url = (api_url or settings().youtube_api_url).rstrip("/")
        self.viewers_every = viewers_every
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # OAuth wins: it also reads chats an API key cannot (unlisted, members-only).
        self._auth_headers = {"Authorization": f"Bearer {oauth_token}"} if oauth_token else {}
        self._auth_params = {} if oauth_token else {"key": api_key or ""}
        self.page_token: str | None = None
        self._viewers_due = 0.0
        self._offline = False  # the broadcast is over: drain the chat, then end

    def restore(self, state: Mapping[str, Any]) -> None:
        self.page_token = state.get("page_token") or None
        self.live_chat_id = state.get("live_chat_id") or self.live_chat_id

    async def batches(self) -> AsyncIterator[Batch]:
        async with aiohttp.ClientSession(timeout=self.timeout, headers=self._auth_headers) as http:
            while True:
                if self.live_chat_id is None or time.monotonic() >= self._viewers_due:
                    yield Batch(await self._video(http), requests=1)
                page = await self._get(
                    http,
                    "/liveChat/messages",
                    {
                        "liveChatId": self.live_chat_id or "",
                        "part": PARTS,
                        "maxResults": str(MAX_RESULTS),
                        **({"pageToken": self.page_token} if self.page_token else {}),
                    },
                )
                comments, malformed, chat_ended = self._read_page(page, self.page_token is None)
                token = page.get("nextPageToken")
                if isinstance(token, str) and token:
                    self.page_token = token
                self._offline = self._offline or bool(page.get("offlineAt"))
                interval = page.get("pollingIntervalMillis")
                wait = interval / 1000 if isinstance(interval, int | float) else 5.0
                yield Batch(
                    comments,
                    state={"live_chat_id": self.live_chat_id, "page_token": self.page_token},
                    wait=wait,
                    malformed=malformed,
                    requests=1,
                )
                if chat_ended:
                    raise SessionEnded("the live chat ended (chatEndedEvent)")
                if self._offline and not page.get("items"):
                    raise SessionEnded("the broadcast went offline and its chat is drained")

    async def _video(self, http: aiohttp.ClientSession) -> list[ConnectorRecord]:
        """The chat id (first call) and the viewers, from the video's live details."""
        body = await self._get(
            http, "/videos", {"part": "liveStreamingDetails", "id": self.video_id}
        )
        self._viewers_due = time.monotonic() + self.viewers_every
        items = body.get("items")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise SessionEnded(f"no YouTube video {self.video_id!r}")
        details = items[0].get("liveStreamingDetails")
        if not isinstance(details, dict):
            raise SessionEnded(f"video {self.video_id!r} is not a live broadcast")
        if details.get("actualEndTime"):
            if self.live_chat_id is None:
                raise SessionEnded(f"the broadcast ended at {details['actualEndTime']}")
            self._offline = True
        if self.live_chat_id is None:
            chat_id = details.get("activeLiveChatId")
            if not isinstance(chat_id, str) or not chat_id:
                raise SessionEnded(f"video {self.video_id!r} has no active live chat")
            self.live_chat_id = chat_id
        viewers = details.get("concurrentViewers")  # absent when the channel hides it
        if isinstance(viewers, str) and viewers.isdigit():
            return [ViewerCount(self.stream, int(viewers), time.time(), PLATFORM)]
        return []

    def _read_page(
        self, page: dict[str, Any], first: bool
    ) -> tuple[list[Comment], list[Malformed], bool]:
        comments: list[Comment] = []
        malformed: list[Malformed] = []
        ended = False
        items = page.get("items")
        if not isinstance(items, list):
            return comments, [Malformed("the page has no items list", _raw(page))], ended
        for item in items:
            try:
                kind, comment = self._read_item(item, history=first)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                malformed.append(Malformed(f"unreadable chat message ({exc!r})", _raw(item)))
                continue
            ended = ended or kind == "chatEndedEvent"
            if comment is not None:
                comments.append(comment)
        return comments, malformed, ended

    def _read_item(self, item: Any, history: bool) -> tuple[str, Comment | None]:
        snippet = item["snippet"]
        kind = snippet["type"]
        if kind == "textMessageEvent":
            text = snippet.get("textMessageDetails", {}).get("messageText")
            text = text if isinstance(text, str) else snippet["displayMessage"]
        elif kind == "superChatEvent":
            # A Super Chat's words (if any) may order like any comment.
            text = snippet.get("superChatDetails", {}).get("userComment")
            if not text:
                return kind, None
        elif kind == "messageDeletedEvent":
            deleted_id = snippet["deletedMessageDetails"]["deletedMessageId"]
            return kind, Comment(
                stream=self.stream,
                comment_id=_nonempty(deleted_id),
                user_id="",
                text="",
                ts=_rfc3339(snippet["publishedAt"]),
                platform=PLATFORM,
                deleted=True,
            )
        else:  # chatEndedEvent, memberships, bans, polls...: nothing to order
            return kind, None
        author = item.get("authorDetails") or {}
        return kind, Comment(
            stream=self.stream,
            comment_id=_nonempty(item["id"]),
            user_id=_nonempty(author.get("channelId") or snippet["authorChannelId"]),
            user_name=str(author.get("displayName") or ""),
            text=str(text),
            ts=_rfc3339(snippet["publishedAt"]),
            platform=PLATFORM,
            history=history,
        )

    async def _get(
        self, http: aiohttp.ClientSession, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        url = self.api_url + path
        try:
            async with http.get(url, params={**params, **self._auth_params}) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"GET {path}: {exc!r}") from exc
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if status == 200 and isinstance(body, dict):
            return body
        raise _error(path, status, body, raw, retry_after)


def _error(
    path: str, status: int, body: Any, raw: bytes, retry_after: str | None
) -> ConnectorError:
    """The base error for a failed call, from the reason in Google's error body."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    reasons = [
        str(d.get("reason", ""))
        for d in [*(error.get("errors") or []), *(error.get("details") or [])]
        if isinstance(d, dict)
    ]
    reason = next((r for r in reasons if r), "")
    message = str(error.get("message", ""))
    what = f"GET {path}: HTTP {status} {reason} {message or raw[:200]!r}"
    if reason in ENDED_REASONS:
        return SessionEnded(f"{reason}: {message}")
    if reason in RATE_REASONS or status == 429:
        return RateLimited(what, _seconds(retry_after))
    if reason in QUOTA_REASONS:
        return QuotaExceeded(
            f"the YouTube Data API daily quota is spent ({reason}: {message}); it resets at "
            "midnight Pacific time, or ask Google for more"
        )
    if status == 401 or AUTH_REASONS.intersection(reasons):
        return AuthError(
            f"YouTube refused the credentials ({reason or status}: {message}); set a valid "
            "YOUTUBE_API_KEY or a fresh YOUTUBE_OAUTH_TOKEN"
        )
    if status >= 500 or status == 200:  # 200 here: a body that is not the API's JSON
        return TransientError(what)
    return ConnectorError(what)


def _rfc3339(value: Any) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _seconds(text: str | None) -> float | None:
    """A Retry-After header in seconds (its HTTP-date form is rare here: backoff covers it)."""
    try:
        return max(0.0, float(text)) if text else None
    except ValueError:
        return None


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--video-id", help="the live video's id (default: the --stream id)", default=None
    )
    parser.add_argument(
        "--live-chat-id", help="the chat's id, when known (skips looking it up)", default=None
    )
    parser.add_argument(
        "--viewers-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how often to read the viewer count (each read costs 1 quota unit; default 30)",
    )


def build(args: argparse.Namespace, env: Mapping[str, str]) -> YouTubeConnector:
    return YouTubeConnector(
        args.stream,
        video_id=args.video_id,
        live_chat_id=args.live_chat_id,
        api_key=env.get("YOUTUBE_API_KEY"),
        oauth_token=env.get("YOUTUBE_OAUTH_TOKEN"),
        api_url=settings(env).youtube_api_url,
        viewers_every=args.viewers_every,
    )


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="YouTube Live chat (Data API v3 liveChatMessages.list)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
