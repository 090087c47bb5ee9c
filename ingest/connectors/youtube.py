"""YouTube Live: the Data API v3 live chat, streamed (`liveChatMessages.streamList`) or polled
(`liveChatMessages.list`), within the day's quota. `chotdon ingest youtube --stream VIDEO_ID` (the
id in the live's watch?v= address).

- The live chat is found from the video (`videos.list?part=liveStreamingDetails`
  → `activeLiveChatId`), which also gives the viewers (`concurrentViewers`, a string).
- Quota (developers.google.com/youtube/v3/determine_quota_cost): 10,000 units a day by default;
  `liveChatMessages.list` costs 5 units a call and `videos.list` 1. Polled at the typical 3 s
  interval the day's quota is gone in 1.6 hours. So the connector first uses
  `liveChatMessages.streamList` (GET /liveChat/messages/stream): a server-streamed RPC that sends
  the recent history, then pushes each new batch as it arrives, and closes after about 10 s; the
  connector reconnects with the last `nextPageToken` (developers.google.com/youtube/v3/live/docs/
  liveChatMessages/streamList). Over REST (gRPC transcoding) the stream is one JSON array of
  LiveChatMessageListResponse objects, written as they come. A connection is counted as one call
  (5 units). Where the stream is not served (404 without `liveChatNotFound`, 405, 501), it polls
  `list` instead, waiting `pollingIntervalMillis`. Either way calls are spaced so the budget
  (`--quota` units, `--hours` of live) lasts; at the start it says how long the quota lasts.
  Confirmations (`liveChatMessages.insert`, 50 units each) are counted in it: with them on
  (`chotdon run --confirm`), a quarter of the quota is kept for them and the reading spaced
  over the rest; once that share is spent, replies stop with one message and the chat is still
  read. (`chotdon confirm` in the distributed mode answers from its own process: give the
  reader, `chotdon ingest youtube --quota`, the quota less the confirmations' share.)
- Each call passes the last `nextPageToken`: the first answer of a fresh start is the chat's
  backlog, marked `history`; a restart resumes from its saved page token instead.
- `messageDeletedEvent` (a moderator removed a message), `messageRetractedEvent` (its author
  took it back) and `tombstone` (a placeholder for a message that is gone) delete that message's
  comment, undoing its order; `userBannedEvent` deletes the comments the banned viewer made in
  this session (the chat removes them too).
- The channel owner's messages (`authorDetails.isChatOwner`) are the host, not a buyer: skipped;
  with --skip-moderators, moderators' too.
- `chatEndedEvent`, `offlineAt`/`actualEndTime` and the errors `liveChatEnded`,
  `liveChatDisabled`, `liveChatNotFound` end the session; `rateLimitExceeded` backs off;
  `quotaExceeded` and rejected credentials stop with a clear message.

Credentials only from the environment: YOUTUBE_API_KEY (enough for public broadcasts), or OAuth:
YOUTUBE_OAUTH_TOKEN (an access token, sent as a bearer token; it lasts about an hour) and, so it
is renewed before it expires, YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET and YOUTUBE_REFRESH_TOKEN
(the refresh_token grant of developers.google.com/identity/protocols/oauth2/web-server#offline;
the answer carries `access_token` and `expires_in`). Renewed tokens are kept in
CHOTDON_CHECKPOINT_DIR (mode 0600). CHOTDON_YOUTUBE_API_URL and CHOTDON_GOOGLE_TOKEN_URL point the
connector at other servers (tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import aiohttp

from chotdon.config import settings
from chotdon.records import Comment, ViewerCount

from .base import (
    AuthError,
    ConnectorError,
    ConnectorRecord,
    QuotaExceeded,
    RateLimited,
    SessionEnded,
    TransientError,
    state_file,
)
from .runner import Batch, Malformed, Platform, UsageError
from .tokens import Grant, Refresh, RefreshingToken, TokenStore

PLATFORM = "youtube"
MAX_RESULTS = 2000  # the API's largest page: fewer polls on a busy chat
DAILY_QUOTA = 10_000  # units a project gets a day by default
CHAT_COST = 5  # units a liveChatMessages call costs (a streamList connection counted as one)
VIDEOS_COST = 1  # videos.list
INSERT_COST = 50  # liveChatMessages.insert: a confirmation in the chat
REPLY_SHARE = 0.25  # of the day's quota kept for confirmations when they are on
MINE = "mine"  # --channel mine: the channel the OAuth token belongs to
MAX_FRAME_BYTES = 8 << 20  # one streamed response at most (2,000 messages fit)
AUTHORS_KEPT = 5_000  # authors whose recent comment ids a ban can delete
IDS_PER_AUTHOR = 50
# snippet.type of a removed message -> where its id is (None: the item's own id)
GONE_DETAILS: dict[str, tuple[str | None, str]] = {
    "messageDeletedEvent": ("deletedMessageDetails", "deletedMessageId"),
    "messageRetractedEvent": ("messageRetractedDetails", "retractedMessageId"),
    "tombstone": (None, "id"),
}
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
        oauth: RefreshingToken | None = None,
        api_url: str | None = None,
        viewers_every: float = 30.0,
        quota: int = DAILY_QUOTA,
        hours: float = 4.0,
        streaming: bool = True,
        skip_moderators: bool = False,
        channel_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not (api_key or oauth_token or oauth):
            raise UsageError("YouTube needs YOUTUBE_OAUTH_TOKEN or YOUTUBE_API_KEY")
        self.stream = stream
        self.channel_id = channel_id  # without a video: the channel's live now
        self.video_id: str | None = video_id or (None if channel_id else stream)
        self.live_chat_id = live_chat_id
        self.api_url = (api_url or settings().youtube_api_url).rstrip("/")
        self.viewers_every = viewers_every
        self.budget = QuotaBudget(quota, hours, viewers_every)
        self.streaming = streaming
        self.skip_moderators = skip_moderators
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # The stream stays open ~10 s (30 s deadline): no total timeout, only between bytes.
        self.stream_timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout)
        # OAuth wins: it also reads chats an API key cannot (unlisted, members-only).
        self.oauth = oauth
        self.oauth_token = oauth_token
        self._auth_params = {} if (oauth or oauth_token) else {"key": api_key or ""}
        self.page_token: str | None = None
        self.units = 0  # quota units spent by this connector
        self.replied = 0  # confirmations sent (their units are in `units` too)
        self._viewers_due = 0.0
        self._chat_due = 0.0  # monotonic time the next chat call may start, for the budget
        self._offline = False  # the broadcast is over: drain the chat, then end
        self._planned = False
        self._end: str | None = None  # why the session ends, once this batch is out
        self._authors: OrderedDict[str, list[str]] = OrderedDict()  # recent ids per author

    @property
    def token(self) -> RefreshingToken | None:
        """The OAuth token renewed before it expires (None: a fixed token or an API key)."""
        return self.oauth

    @property
    def quota_left(self) -> float:
        """Share of the day's quota this connector has not spent (others may share it)."""
        return max(0.0, 1.0 - self.units / self.budget.quota)

    def confirming(self, share: float = REPLY_SHARE) -> None:
        """Confirmations are on: keep `share` of the quota for them, read within the rest."""
        self.budget = replace(self.budget, reply_share=share)

    def restore(self, state: Mapping[str, Any]) -> None:
        self.page_token = state.get("page_token") or None
        self.live_chat_id = state.get("live_chat_id") or self.live_chat_id

    async def batches(self) -> AsyncIterator[Batch]:
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            if not self._planned:
                self._planned = True
                yield Batch(notes=[self.budget.plan(self.streaming)])
            if self.video_id is None:
                self.video_id = await self.current_live(http)
                yield Batch(notes=[f"the channel's live now is {self.video_id}"], requests=1)
            while True:
                if self.live_chat_id is None or time.monotonic() >= self._viewers_due:
                    yield Batch(await self._video(http), requests=1)
                await self._pace()
                if self.streaming:
                    try:
                        async for batch in self._streamed(http):
                            yield batch
                    except StreamUnavailable as exc:
                        self.streaming = False
                        note = f"streamList is not available ({exc}): polling list instead"
                        yield Batch(notes=[note, self.budget.plan(False)])
                    continue
                page = await self._get(http, "/liveChat/messages", self._chat_params())
                self.units += CHAT_COST
                yield self._page_batch(page, requests=1)
                if self._end:
                    raise SessionEnded(self._end)

    def _chat_params(self) -> dict[str, str]:
        return {
            "liveChatId": self.live_chat_id or "",
            "part": PARTS,
            "maxResults": str(MAX_RESULTS),
            **({"pageToken": self.page_token} if self.page_token else {}),
        }

    async def _pace(self) -> None:
        """Wait until the budget allows the next chat call (the runner's stop ends it)."""
        now = time.monotonic()
        if self._chat_due > now:
            await asyncio.sleep(self._chat_due - now)
        self._chat_due = time.monotonic() + self.budget.chat_interval

    def _page_batch(self, page: dict[str, Any], requests: int = 0) -> Batch:
        """One LiveChatMessageListResponse (a polled page or a streamed frame) as a batch;
        raises SessionEnded after the chat's end, once its records are out."""
        comments, malformed, chat_ended = self._read_page(page, self.page_token is None)
        token = page.get("nextPageToken")
        if isinstance(token, str) and token:
            self.page_token = token
        self._offline = self._offline or bool(page.get("offlineAt"))
        interval = page.get("pollingIntervalMillis")
        wait = interval / 1000 if isinstance(interval, int | float) else 5.0
        batch = Batch(
            comments,
            state={"live_chat_id": self.live_chat_id, "page_token": self.page_token},
            wait=0.0 if self.streaming else wait,
            malformed=malformed,
            requests=requests,
            quota_left=self.quota_left,
        )
        self._end = None
        if chat_ended:
            self._end = "the live chat ended (chatEndedEvent)"
        elif self._offline and not page.get("items") and not self.streaming:
            self._end = "the broadcast went offline and its chat is drained"
        return batch

    async def _streamed(self, http: aiohttp.ClientSession) -> AsyncIterator[Batch]:
        """One streamList connection: a batch per response, until the server closes it."""
        url = self.api_url + "/liveChat/messages/stream"
        params = {**self._chat_params(), **self._auth_params}
        headers = await self._headers(http)
        frames = 0
        try:
            async with http.get(
                url, params=params, headers=headers, timeout=self.stream_timeout
            ) as response:
                self.units += CHAT_COST
                if response.status != 200:
                    raw = await response.read()
                    body = _json(raw)
                    if _stream_missing(response.status, body):
                        raise StreamUnavailable(f"HTTP {response.status}")
                    if response.status == 401 and self.oauth is not None:
                        await self.oauth.renew(http)
                        raise TransientError("the access token expired: renewed, reconnecting")
                    retry_after = response.headers.get("Retry-After")
                    raise _error(
                        "/liveChat/messages/stream", response.status, body, raw, retry_after
                    )
                async for page in json_array_items(response.content, MAX_FRAME_BYTES):
                    frames += 1
                    yield self._page_batch(page, requests=1 if frames == 1 else 0)
                    if self._end:
                        raise SessionEnded(self._end)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"streamList: {exc!r}") from exc
        if frames == 0:
            yield Batch(requests=1)
        if self._offline:
            raise SessionEnded("the broadcast went offline and its chat is drained")

    async def current_live(self, http: aiohttp.ClientSession) -> str:
        """The video id of the live broadcasting now: `--channel mine` (OAuth), the authorised
        channel's (liveBroadcasts.list broadcastStatus=active mine=true, 1 unit); else that
        channel's (search.list eventType=live type=video, its own daily bucket of 100 calls)."""
        if self.channel_id == MINE:
            body = await self._get(
                http,
                "/liveBroadcasts",
                {"part": "id,snippet", "broadcastStatus": "active", "mine": "true"},
            )
            self.units += VIDEOS_COST
            ids = [item.get("id") for item in body.get("items") or [] if isinstance(item, dict)]
        else:
            body = await self._get(
                http,
                "/search",
                {
                    "part": "id",
                    "channelId": self.channel_id or "",
                    "eventType": "live",
                    "type": "video",
                },
            )
            ids = [
                (item.get("id") or {}).get("videoId")
                for item in body.get("items") or []
                if isinstance(item, dict)
            ]
        found = next((i for i in ids if isinstance(i, str) and i), None)
        if found is None:
            raise SessionEnded(f"channel {self.channel_id or '(yours)'} is not live now")
        return found

    async def _video(self, http: aiohttp.ClientSession) -> list[ConnectorRecord]:
        """The chat id (first call) and the viewers, from the video's live details."""
        body = await self._get(
            http, "/videos", {"part": "liveStreamingDetails", "id": self.video_id or ""}
        )
        self.units += VIDEOS_COST
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
                kind, found = self._read_item(item, history=first)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                malformed.append(Malformed(f"unreadable chat message ({exc!r})", _raw(item)))
                continue
            ended = ended or kind == "chatEndedEvent"
            comments.extend(found)
        return comments, malformed, ended

    def _read_item(self, item: Any, history: bool) -> tuple[str, list[Comment]]:
        snippet = item["snippet"]
        kind = snippet["type"]
        ts = _rfc3339(snippet["publishedAt"])
        if kind in GONE_DETAILS:  # a message removed: by a moderator, its author, or a tombstone
            details, field = GONE_DETAILS[kind]
            gone = snippet[details][field] if details else item["id"]
            return kind, [self._deletion(_nonempty(gone), ts)]
        if kind == "userBannedEvent":
            banned = snippet["userBannedDetails"]["bannedUserDetails"]["channelId"]
            ids = self._authors.pop(_nonempty(banned), [])
            return kind, [self._deletion(comment_id, ts) for comment_id in ids]
        if kind == "textMessageEvent":
            text = snippet.get("textMessageDetails", {}).get("messageText")
            text = text if isinstance(text, str) else snippet["displayMessage"]
        elif kind == "superChatEvent":
            # A Super Chat's words (if any) may order like any comment.
            text = snippet.get("superChatDetails", {}).get("userComment")
            if not text:
                return kind, []
        else:  # chatEndedEvent, memberships, polls...: nothing to order
            return kind, []
        author = item.get("authorDetails") or {}
        if author.get("isChatOwner") or (self.skip_moderators and author.get("isChatModerator")):
            return kind, []  # the host (or a moderator) talking, not a buyer
        comment = Comment(
            stream=self.stream,
            comment_id=_nonempty(item["id"]),
            user_id=_nonempty(author.get("channelId") or snippet["authorChannelId"]),
            user_name=str(author.get("displayName") or ""),
            text=str(text),
            ts=ts,
            platform=PLATFORM,
            history=history,
        )
        self._remember(comment)
        return kind, [comment]

    def _deletion(self, comment_id: str, ts: float) -> Comment:
        return Comment(
            stream=self.stream,
            comment_id=comment_id,
            user_id="",
            text="",
            ts=ts,
            platform=PLATFORM,
            deleted=True,
        )

    def _remember(self, comment: Comment) -> None:
        """Recent comment ids per author (bounded), for a ban to delete them."""
        ids = self._authors.setdefault(comment.user_id, [])
        self._authors.move_to_end(comment.user_id)
        ids.append(comment.comment_id)
        del ids[:-IDS_PER_AUTHOR]
        while len(self._authors) > AUTHORS_KEPT:
            self._authors.popitem(last=False)

    async def _headers(self, http: aiohttp.ClientSession) -> dict[str, str]:
        if self.oauth is not None:
            return {"Authorization": f"Bearer {await self.oauth.get(http)}"}
        if self.oauth_token:
            return {"Authorization": f"Bearer {self.oauth_token}"}
        return {}

    async def reply(self, http: aiohttp.ClientSession, comment_id: str, text: str) -> None:
        """Post `text` to the live chat (liveChatMessages.insert, part=snippet: 50 quota units a
        message, OAuth with the youtube.force-ssl scope). The chat has no threads: the text
        names the buyer."""
        if not (self.oauth or self.oauth_token):
            raise AuthError("answering in the YouTube chat needs OAuth (YOUTUBE_REFRESH_TOKEN...)")
        if self.replied >= self.budget.replies:
            raise QuotaExceeded(
                f"the {self.budget.reply_share:.0%} of the YouTube quota kept for confirmations "
                f"({self.budget.replies} replies, {INSERT_COST} units each) is spent; the chat "
                "is still read"
            )
        if self.live_chat_id is None:
            await self._video(http)
        snippet = {
            "liveChatId": self.live_chat_id,
            "type": "textMessageEvent",
            "textMessageDetails": {"messageText": text},
        }
        await self._get(http, "/liveChat/messages", {"part": "snippet"}, body={"snippet": snippet})
        self.units += INSERT_COST
        self.replied += 1

    async def _get(
        self,
        http: aiohttp.ClientSession,
        path: str,
        params: dict[str, str],
        *,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET the path (POST `body` when given) as JSON, or raise the error its answer means."""
        url = self.api_url + path
        verb = "GET" if body is None else "POST"
        for attempt in (1, 2):
            headers = await self._headers(http)
            try:
                async with http.request(
                    verb, url, params={**params, **self._auth_params}, headers=headers, json=body
                ) as response:
                    raw = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise TransientError(f"{verb} {path}: {exc!r}", posting=body is not None) from exc
            answer = _json(raw)
            if status == 200 and isinstance(answer, dict):
                return answer
            if status == 401 and self.oauth is not None and attempt == 1:
                await self.oauth.renew(http)  # expired early, or revoked: one more try
                continue
            raise _error(path, status, answer, raw, retry_after)
        raise AssertionError("unreachable")


class StreamUnavailable(Exception):
    """streamList is not served here: poll `list` instead."""


def _stream_missing(status: int, body: Any) -> bool:
    if status in (405, 501):
        return True
    if status != 404:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return "liveChatNotFound" not in json.dumps(error)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def json_array_items(
    content: aiohttp.StreamReader, max_bytes: int
) -> AsyncIterator[dict[str, Any]]:
    """The objects of a JSON array written over time (a server stream over REST), each as soon
    as it is whole. An object over `max_bytes` is an error, not an unbounded buffer."""
    decoder = json.JSONDecoder()
    buffer = ""
    async for chunk in content.iter_any():
        buffer += chunk.decode("utf-8")
        while True:
            buffer = buffer.lstrip(" \t\r\n[,")
            if not buffer or buffer.startswith("]"):
                break
            try:
                item, end = decoder.raw_decode(buffer)
            except ValueError:
                if len(buffer) > max_bytes:
                    raise TransientError("a streamed response over the size limit") from None
                break  # not whole yet
            buffer = buffer[end:]
            if isinstance(item, dict):
                yield item
    if buffer.strip(" \t\r\n],"):
        raise TransientError("the stream was cut in the middle of a response")


@dataclass(frozen=True)
class QuotaBudget:
    """How often chat calls may come so the day's quota lasts the live (pure arithmetic). With
    confirmations on, `reply_share` of the quota is kept for them (50 units a reply) and the
    reading is spaced over the rest."""

    quota: int = DAILY_QUOTA
    hours: float = 4.0
    viewers_every: float = 30.0
    reply_share: float = 0.0

    @property
    def reading_quota(self) -> float:
        return self.quota * (1.0 - self.reply_share)

    @property
    def replies(self) -> int:
        """Confirmations the kept share pays for."""
        return int(self.quota * self.reply_share) // INSERT_COST

    @property
    def chat_interval(self) -> float:
        """Seconds between chat calls (5 units each) at least."""
        seconds = self.hours * 3600
        viewers = VIDEOS_COST * seconds / self.viewers_every if self.viewers_every > 0 else 0
        left = self.reading_quota - viewers
        return CHAT_COST * seconds / left if left > 0 else seconds

    def hours_at(self, interval: float) -> float:
        """How long the quota (less the replies' share) lasts with chat calls every
        `interval` seconds."""
        per_hour = CHAT_COST * 3600 / interval
        if self.viewers_every > 0:
            per_hour += VIDEOS_COST * 3600 / self.viewers_every
        return self.reading_quota / per_hour

    def plan(self, streaming: bool) -> str:
        """What the person running it needs to know before the live."""
        polled = self.hours_at(3.0)
        how = "streamList connections" if streaming else "polls"
        replies = (
            f"; {self.reply_share:.0%} is kept for at most {self.replies} confirmations "
            f"({INSERT_COST} units each)"
            if self.reply_share
            else ""
        )
        return (
            f"YouTube quota {self.quota:,} units/day{replies}: {how} at least every "
            f"{self.chat_interval:.1f}s (5 units each) and the viewers every "
            f"{self.viewers_every:g}s (1 unit) last about {self.hours:g} h; polling every 3 s "
            f"would last {polled:.1f} h. Ask Google for more quota for longer lives."
        )


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
        "--channel",
        help="no video id: read this channel's live now ('mine' with OAuth: the authorised "
        "channel's)",
        default=None,
    )
    parser.add_argument(
        "--viewers-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how often to read the viewer count (each read costs 1 quota unit; default 30)",
    )
    parser.add_argument(
        "--quota",
        type=int,
        default=DAILY_QUOTA,
        help="the project's daily YouTube quota in units (default %(default)s)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=4.0,
        help="how long the live lasts: calls are spaced so the quota does (default %(default)s)",
    )
    parser.add_argument(
        "--poll", action="store_true", help="poll liveChatMessages.list; do not stream"
    )
    parser.add_argument(
        "--skip-moderators",
        action="store_true",
        help="moderators' messages are not orders either (the owner's never are)",
    )


def google_refresh(token_url: str, client_id: str, client_secret: str) -> Refresh:
    """Google's OAuth 2.0 refresh_token grant: POST the token endpoint, form-encoded."""

    async def refresh(http: aiohttp.ClientSession, refresh_token: str) -> Grant:
        form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        }
        try:
            async with http.post(token_url, data=form) as response:
                status, body = response.status, _json(await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"token refresh: {exc!r}") from exc
        if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            expires = body.get("expires_in")
            return Grant(
                body["access_token"],
                float(expires) if isinstance(expires, int | float) else 3600.0,
                body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None,
            )
        if status >= 500:
            raise TransientError(f"token refresh: HTTP {status}")
        error = body.get("error") if isinstance(body, dict) else status
        raise AuthError(
            f"Google refused to renew the YouTube token ({error}); authorise again and set a new "
            "YOUTUBE_REFRESH_TOKEN"
        )

    return refresh


def build(args: argparse.Namespace, env: Mapping[str, str]) -> YouTubeConnector:
    conf = settings(env)
    oauth = None
    refresh_names = ("YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET", "YOUTUBE_REFRESH_TOKEN")
    if any(env.get(name) for name in refresh_names):
        missing = [name for name in refresh_names if not env.get(name)]
        if missing:
            raise UsageError(f"renewing the YouTube token also needs {', '.join(missing)}")
        oauth = RefreshingToken(
            env.get("YOUTUBE_OAUTH_TOKEN"),
            env["YOUTUBE_REFRESH_TOKEN"],
            google_refresh(
                conf.google_token_url, env["YOUTUBE_CLIENT_ID"], env["YOUTUBE_CLIENT_SECRET"]
            ),
            store=TokenStore(state_file(conf.checkpoint_dir, PLATFORM, args.stream, ".tokens")),
        )
    return YouTubeConnector(
        args.stream,
        video_id=args.video_id,
        channel_id=args.channel,
        live_chat_id=args.live_chat_id,
        api_key=env.get("YOUTUBE_API_KEY"),
        oauth_token=env.get("YOUTUBE_OAUTH_TOKEN"),
        oauth=oauth,
        api_url=conf.youtube_api_url,
        viewers_every=args.viewers_every,
        quota=args.quota,
        hours=args.hours,
        streaming=not args.poll,
        skip_moderators=args.skip_moderators,
    )


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="YouTube Live chat (Data API v3 liveChatMessages.streamList, or list polled)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
