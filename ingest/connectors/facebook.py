"""Facebook Live: the Graph API's live video comments, polled, and the Page `feed` webhooks.

Polling (`--video LIVE_VIDEO_ID`), the primary path:

- GET /{live-video-id}/comments with filter=stream (every comment, replies too),
  live_filter=no_filter (the default, filter_low_quality, drops comments, and buyers' "chốt"
  look low quality), order=chronological, since=<last created_time> and limit; each poll
  follows `paging.cursors.after` while `paging.next` is there, so a busy stream's several pages
  between two polls are all read. `since` has whole seconds, so a poll re-reads the last second:
  the run loop's dedupe drops it.
- The checkpoint keeps only `since`: Meta warns that paging cursors expire and must not be
  stored (developers.facebook.com/docs/graph-api/results, "Cursor-based Pagination"), so a
  restart reads again from the newest comment's second and the run loop drops what repeats (its
  recent ids are in the checkpoint too).
- GET /{live-video-id}?fields=status,live_views,from every --status-every seconds gives the
  viewers and the Page that broadcasts (`from`): that Page's own comments are the host
  answering, not orders, and are skipped. Status LIVE_STOPPED, PROCESSING, VOD,
  SCHEDULED_CANCELED or SCHEDULED_EXPIRED (the LiveVideo `status` enum of the Graph API
  reference) ends the session once the comments are drained.
- Without --video, --page PAGE_ID finds the Page's current live:
  GET /{page-id}/live_videos?broadcast_status=["LIVE"].
- On a fresh start the comments made before the connector started are marked `history`.
- Rate limits (developers.facebook.com/docs/graph-api/overview/rate-limiting): every answer's
  X-App-Usage ({"call_count", "total_cputime", "total_time"}, percentages) and
  X-Business-Use-Case-Usage ({business id: [{"type", "call_count", "total_cputime",
  "total_time", "estimated_time_to_regain_access"}]}) are read, and the polls slow down well
  before 100% (twice as slow from 50%, four times from 75%, a minute apart from 90%).
- Graph errors ({"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}): 190
  and 102 (token expired or invalid), 3, 10 and 200-299 (permission) stop with a clear message;
  4, 17, 32, 341, 368, 613 and 80000-80014 (throttling) back off as long as
  estimated_time_to_regain_access says (minutes); for 32 and 80001 (a Page's limit, which calls
  made while throttled extend) at least 5 minutes when it says nothing; 1, 2, 5xx and network
  errors are retried with backoff.
- Comments whose author the token may not see come without `from`: each then counts as its own
  customer ("anonymous:<comment id>"), never merged with another.

The `live_comments` server-sent events stream is not used: Meta deprecated Server-Sent Events
and announced their removal on 31 December 2023 (developers.facebook.com/docs/graph-api/
server-sent-events); it also only ever sampled comments.

Page webhooks (`--listen HOST:PORT`): Meta only calls an HTTPS callback with a valid
certificate, so put chotdon behind a TLS reverse proxy (Caddy, nginx) whose public
https://HOST/webhooks/facebook forwards to the listener; set that URL and the verify token in the
app's Webhooks settings (Page object, `feed` field), and subscribe the Page to the app with
POST /{page-id}/subscribed_apps?subscribed_fields=feed and a Page access token
(developers.facebook.com/docs/graph-api/webhooks/getting-started/webhooks-for-pages). With
--video (and FACEBOOK_ACCESS_TOKEN) the listener reads the live video's Page and post
(`from`, `video`) and keeps only comments on that post ("<page id>_<video id>"), reads the
status every --status-every seconds and stops when the live ends. It answers the verification
GET (hub.mode=subscribe and
hub.verify_token = FACEBOOK_VERIFY_TOKEN: echoes hub.challenge, else 403); a POST must carry
X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(FACEBOOK_APP_SECRET, raw body), compared in
constant time (else 401, counted, nothing emitted). Comment changes (entry[].changes[].value with
item=comment): `add` is a comment, `remove` a deletion (undoing its order), `edited` a new
version: the previous version is deleted and the new text becomes a comment
"<comment_id>~<hash of the text>" (the same edit redelivered dedupes), so an edited "chốt 2" ->
"chốt 3" ends with one order of 3. `hide`/`unhide` are the Page's moderation, not the buyer's:
ignored. The Page's own comments (from.id = the entry's Page id) are skipped.

Credentials only from the environment: FACEBOOK_ACCESS_TOKEN (a Page access token; with
FACEBOOK_APP_SECRET also set, every call carries appsecret_proof), FACEBOOK_APP_SECRET and
FACEBOOK_VERIFY_TOKEN for the webhooks. CHOTDON_FACEBOOK_GRAPH_URL points the connector at
another server (tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from multidict import CIMultiDictProxy

from chotdon.config import parse_listen, settings
from chotdon.records import Comment, ViewerCount

from .base import (
    AuthError,
    ConnectorError,
    ConnectorRecord,
    RateLimited,
    SessionEnded,
    TransientError,
)
from .runner import Batch, Malformed, Platform, UsageError
from .webhook import (
    DEFAULT_MAX_BYTES,
    PushConnector,
    ShuttingDown,
    signature_ok,
)

PLATFORM = "facebook"
COMMENT_FIELDS = "id,message,from{id,name},created_time"
ENDED_STATUSES = frozenset(
    {"LIVE_STOPPED", "PROCESSING", "VOD", "SCHEDULED_CANCELED", "SCHEDULED_EXPIRED"}
)
PAGE_THROTTLE_CODES = frozenset({32, 80001})  # a Page's limit: calls while throttled extend it
PAGE_THROTTLE_WAIT = 300.0  # seconds, when Meta does not say how long
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage")
TOKEN_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({3, 10, *range(200, 300)})
RATE_CODES = frozenset({4, 17, 32, 341, 368, 613}) | frozenset(range(80000, 80015))
TRANSIENT_CODES = frozenset({1, 2})
TOKEN_SUBCODES = {
    458: "the app is not installed for this user",
    459: "the user must log in at facebook.com to fix their account",
    460: "the password was changed",
    463: "the token has expired",
    464: "the user is unconfirmed",
    467: "the token is invalid",
}
SIGNATURE_HEADER = "X-Hub-Signature-256"
VERSIONS_KEPT = 1_000  # edited comments whose current version the webhook remembers


class UnreadableResponse(TransientError):
    """A Graph answer that is not the JSON it should be: retried, counted apart."""

    kind = "malformed"


def graph_error(error: Any, status: int, headers: CIMultiDictProxy[str]) -> ConnectorError:
    """The connector error for a Graph error object."""
    if not isinstance(error, dict):
        return UnreadableResponse(f"HTTP {status}: unreadable error object {error!r}")
    code, subcode = error.get("code"), error.get("error_subcode")
    detail = (
        f"{error.get('message', '')} (code {code}, subcode {subcode}, "
        f"type {error.get('type')}, fbtrace_id {error.get('fbtrace_id')})"
    )
    if code in TOKEN_CODES:
        why = TOKEN_SUBCODES.get(subcode if isinstance(subcode, int) else 0)
        why = why or "the token is invalid or expired"
        return AuthError(
            f"Facebook rejected the access token: {why}. Put a new Page access token in "
            f"FACEBOOK_ACCESS_TOKEN and restart. {detail}"
        )
    if code in PERMISSION_CODES:
        return AuthError(f"the access token lacks a permission for this live video: {detail}")
    if code in RATE_CODES or status == 429:
        wait = _regain_access(headers)
        if wait is None and code in PAGE_THROTTLE_CODES:
            wait = PAGE_THROTTLE_WAIT
        return RateLimited(f"Facebook throttles these calls: {detail}", wait)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(f"Facebook had a temporary error: {detail}")
    return ConnectorError(f"Facebook refused the request: {detail}")


def _regain_access(headers: CIMultiDictProxy[str]) -> float | None:
    """Seconds until access returns, from x-business-use-case-usage (minutes, per business)."""
    try:
        usage = json.loads(headers.get("x-business-use-case-usage", ""))
        minutes = [
            float(entry.get("estimated_time_to_regain_access", 0))
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60 if minutes and max(minutes) > 0 else None


def usage_percent(headers: Mapping[str, str]) -> float:
    """The highest use of any limit the usage headers report, in percent (0 when absent)."""
    highest = 0.0
    for name in USAGE_HEADERS:
        try:
            usage = json.loads(headers.get(name, "") or "{}")
        except ValueError:
            continue
        reports = (
            [usage]
            if name == "x-app-usage"
            else [
                entry
                for entries in usage.values()
                if isinstance(entries, list)
                for entry in entries
            ]
            if isinstance(usage, dict)
            else []
        )
        for report in reports:
            if not isinstance(report, dict):
                continue
            for key in ("call_count", "total_cputime", "total_time"):
                value = report.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    highest = max(highest, float(value))
    return highest


def paced_interval(interval: float, percent: float) -> float:
    """The polling interval at this usage: slower well before the limit."""
    if percent >= 90:
        return max(interval, 60.0)
    if percent >= 75:
        return interval * 4
    if percent >= 50:
        return interval * 2
    return interval


def parse_created_time(value: Any) -> float:
    """Graph's "2026-11-27T08:00:05+0000", or a webhook's unix seconds, as unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    raise ValueError(f"created_time {value!r} is not a time")


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class FacebookLive:
    """Polls a live video's comments (every page) and status; see the module's doc."""

    platform = PLATFORM

    def __init__(
        self,
        stream: str,
        video_id: str | None,
        access_token: str,
        *,
        app_secret: str | None = None,
        graph_url: str,
        interval: float = 2.0,
        status_every: float = 10.0,
        page_size: int = 100,
        page_id: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (video_id or page_id):
            raise UsageError("name the live video (--video), or the Page whose live to read")
        self.stream = stream
        self.video_id = video_id
        self.graph_url = graph_url.rstrip("/")
        self.interval = interval
        self.status_every = status_every
        self.page_size = page_size
        self.page_id = page_id  # its own comments are the host's replies, not orders
        self.post_id: str | None = None  # "<page id>_<video id>", what webhooks name
        self.private_replies = True  # confirmations in Messenger; off: under the comment
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock
        self._auth = {"access_token": access_token}
        if app_secret:
            proof = hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256)
            self._auth["appsecret_proof"] = proof.hexdigest()
        self.since: int | None = None  # created_time of the newest comment read
        self.usage = 0.0  # the highest limit use the last answer reported, in percent
        self.started_at = clock()
        self.fresh = True
        self._status_due = 0.0

    @property
    def quota_left(self) -> float:
        """Share of the rate limit still free, 0..1, as the last answer reported."""
        return max(0.0, 1.0 - self.usage / 100)

    def restore(self, state: Mapping[str, Any]) -> None:
        since = state.get("since")
        self.since = since if isinstance(since, int) else None
        self.fresh = self.since is None
        self.video_id = self.video_id or state.get("video_id") or None

    def _state(self) -> dict[str, Any]:
        return {"since": self.since, "video_id": self.video_id}

    async def batches(self) -> AsyncIterator[Batch]:
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            if self.video_id is None:
                self.video_id = await self.current_live(http)
                yield Batch(notes=[f"the Page's current live is {self.video_id}"], requests=1)
            while True:
                status = None
                if time.monotonic() >= self._status_due:
                    status, viewers = await self.video_status(http)
                    yield Batch(viewers, requests=1, quota_left=self.quota_left)
                ended = status in ENDED_STATUSES
                async for batch in self._drain(http, last=ended):
                    yield batch
                if ended:
                    raise SessionEnded(f"live video {self.video_id} is {status}")

    async def current_live(self, http: aiohttp.ClientSession) -> str:
        """The id of the Page's live video broadcasting now."""
        body = await self._get(
            http,
            f"/{self.page_id}/live_videos",
            {"broadcast_status": '["LIVE"]', "fields": "id,status"},
        )
        lives = body.get("data")
        for live in lives if isinstance(lives, list) else []:
            if isinstance(live, dict) and live.get("status") == "LIVE" and live.get("id"):
                return str(live["id"])
        raise SessionEnded(f"Page {self.page_id} is not live now")

    async def video_status(
        self, http: aiohttp.ClientSession
    ) -> tuple[str | None, list[ViewerCount]]:
        """The live video's status and viewers; learns its Page and post ids the first time."""
        body = await self._get(
            http, f"/{self.video_id}", {"fields": "status,live_views,from,video"}
        )
        self._status_due = time.monotonic() + self.status_every
        status = body.get("status")
        owner = body.get("from")
        if self.page_id is None and isinstance(owner, dict) and owner.get("id"):
            self.page_id = str(owner["id"])
        video = body.get("video")
        if self.page_id and isinstance(video, dict) and video.get("id"):
            self.post_id = f"{self.page_id}_{video['id']}"
        views = body.get("live_views")
        viewers = []
        if isinstance(views, int) and not isinstance(views, bool) and views >= 0:
            viewers.append(
                ViewerCount(stream=self.stream, viewers=views, ts=self.clock(), platform=PLATFORM)
            )
        return (status if isinstance(status, str) else None), viewers

    async def _drain(self, http: aiohttp.ClientSession, last: bool) -> AsyncIterator[Batch]:
        """Every page of comments since the last one read, a batch each; the last one waits
        the interval the usage headers allow (no wait when this is the `last` drain). Cursors
        are followed within the poll and never saved (they expire)."""
        params = {
            "fields": COMMENT_FIELDS,
            "filter": "stream",
            "live_filter": "no_filter",
            "order": "chronological",
            "limit": str(self.page_size),
        }
        if self.since is not None:
            params["since"] = str(self.since)
        path = f"/{self.video_id}/comments"
        link: str | None = None  # a `paging.next` without a cursor
        cursor: str | None = None
        while True:
            query = params if cursor is None else {**params, "after": cursor}
            try:
                page = await self._get(http, path, {} if link else query, url=link)
            except ConnectorError as exc:
                if cursor is None or exc.retriable or isinstance(exc, AuthError):
                    raise
                # An expired cursor: read again from `since`; dedupe drops what repeats.
                raise TransientError(f"the paging cursor was refused ({exc}); re-reading") from exc
            comments, malformed = self._read_page(page)
            paging = page.get("paging")
            paging = paging if isinstance(paging, dict) else {}
            cursors = paging.get("cursors")
            after = cursors.get("after") if isinstance(cursors, dict) else None
            following = paging.get("next")
            following = following if isinstance(following, str) and following != link else None
            by_cursor = bool(following) and isinstance(after, str) and after != cursor
            link = None if by_cursor else following
            cursor = after if by_cursor and isinstance(after, str) else None
            if comments:
                newest = int(max(c.ts for c in comments))
                self.since = max(self.since or newest, newest)
            more = by_cursor or link is not None
            wait = 0.0 if more or last else paced_interval(self.interval, self.usage)
            yield Batch(
                comments,
                state=self._state(),
                wait=wait,
                malformed=malformed,
                requests=1,
                quota_left=self.quota_left,
            )
            if not more:
                self.fresh = False  # the backlog is read: what comes now is live
                return

    def _read_page(self, page: dict[str, Any]) -> tuple[list[ConnectorRecord], list[Malformed]]:
        data = page.get("data")
        if not isinstance(data, list):
            raise UnreadableResponse(f"a comments page without a data list: {_raw(page)[:300]}")
        comments: list[ConnectorRecord] = []
        malformed: list[Malformed] = []
        for raw in data:
            try:
                comment = self._comment(raw)
            except (ValueError, TypeError, KeyError) as exc:
                malformed.append(Malformed(f"comment: {exc!r}", _raw(raw)))
                continue
            if comment.user_id != self.page_id:
                comments.append(comment)
        return comments, malformed

    def _comment(self, raw: Any) -> Comment:
        cid = raw["id"]
        if not isinstance(cid, str) or not cid:
            raise ValueError("no comment id")
        ts = parse_created_time(raw["created_time"])
        text = raw.get("message", "")  # a sticker- or photo-only comment has none
        if not isinstance(text, str):
            raise ValueError("message is not a string")
        sender = raw.get("from")
        if sender is not None and not (isinstance(sender, dict) and sender.get("id")):
            raise ValueError("from has no id")
        return Comment(
            stream=self.stream,
            comment_id=cid,
            user_id=str(sender["id"]) if sender else f"anonymous:{cid}",
            user_name=str(sender.get("name", "")) if sender else "",
            text=text,
            ts=ts,
            platform=PLATFORM,
            history=self.fresh and ts < self.started_at,  # the backlog of a first start
        )

    async def reply(self, http: aiohttp.ClientSession, comment_id: str, text: str) -> None:
        """Answer a buyer's comment: a Private Reply in Messenger (POST /{page-id}/messages
        with recipient.comment_id; one per comment, within 7 days of it, needs the
        pages_messaging permission: developers.facebook.com/docs/messenger-platform/
        discovery/private-replies), or a public reply under the comment
        (POST /{comment-id}/comments) when `private_replies` is off."""
        if not self.private_replies:
            await self._get(http, f"/{comment_id}/comments", {"message": text}, post=True)
            return
        if self.page_id is None:
            await self.video_status(http)
        body = {"recipient": {"comment_id": comment_id}, "message": {"text": text}}
        await self._get(http, f"/{self.page_id}/messages", {}, post=True, json_body=body)

    async def _get(
        self,
        http: aiohttp.ClientSession,
        path: str,
        params: dict[str, str],
        *,
        url: str | None = None,
        post: bool = False,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET (or POST) the path (or Graph's own `url`, whose query is complete) as JSON, or
        raise the error it means. Errors name the path, never the URL: that carries the access
        token."""
        target, query = (url, {}) if url else (self.graph_url + path, {**params, **self._auth})
        verb = "POST" if post else "GET"
        try:
            async with http.request(verb, target, params=query, json=json_body) as resp:
                status, headers, body = resp.status, resp.headers, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            what = f"{verb} {path}: {type(exc).__name__}: {exc}"
            raise TransientError(what, posting=post) from exc
        self.usage = usage_percent(headers)
        bare = {"message": f"{verb} {path}: HTTP {status}"}  # an answer without an error object
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            if status >= 500 or status == 429:
                raise graph_error(bare, status, headers) from None
            raise UnreadableResponse(f"{verb} {path}: HTTP {status}, not JSON") from None
        if isinstance(data, dict) and "error" in data:
            raise graph_error(data["error"], status, headers)
        if status >= 400 or not isinstance(data, dict):
            raise graph_error(bare, status, headers)
        return data


class FacebookPageWebhook(PushConnector):
    """The Page `feed` webhooks, for one live stream; see the module's doc."""

    platform = PLATFORM

    def __init__(
        self,
        stream: str,
        app_secret: str,
        verify_token: str,
        host: str,
        port: int,
        *,
        post_id: str | None = None,
        live: FacebookLive | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(stream, host, port, max_bytes=max_bytes)
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.post_id = post_id
        self.live = live  # the live video: its post id, its viewers and its end
        self.page_id: str | None = None
        self.clock = clock
        self.versions: OrderedDict[str, str] = OrderedDict()  # comment id -> current version

    def restore(self, state: Mapping[str, Any]) -> None:
        self.versions = OrderedDict(state.get("versions") or {})

    async def batches(self) -> AsyncIterator[Batch]:
        if self.live is None:
            async for batch in super().batches():
                yield batch
            return
        live = self.live
        async with aiohttp.ClientSession(timeout=live.timeout) as http:
            _, viewers = await live.video_status(http)  # before listening: the post to match
            self.post_id = self.post_id or live.post_id
            self.page_id = live.page_id
            watcher = asyncio.create_task(self._watch(http, live))
            try:
                yield Batch(viewers, requests=1)
                async for batch in super().batches():
                    yield batch
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _watch(self, http: aiohttp.ClientSession, live: FacebookLive) -> None:
        """Read the live's status and viewers every status_every seconds; end with the live.
        A failed read is counted and tried again at the next tick."""
        while True:
            await asyncio.sleep(live.status_every)
            try:
                status, viewers = await live.video_status(http)
            except ConnectorError as exc:
                self.note_error(exc.kind, f"reading the live's status: {exc}")
                continue
            if viewers:
                self._queue.put_nowait(Batch(viewers, requests=1))
            if status in ENDED_STATUSES:
                self.end(f"live video {live.video_id} is {status}")
                return

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/webhooks/facebook", self.verify)
        app.router.add_post("/webhooks/facebook", self.receive)

    async def verify(self, request: web.Request) -> web.Response:
        query = request.query
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), self.verify_token.encode()
        ):
            return web.Response(text=query.get("hub.challenge", ""))
        self.note_error("verification", "refused a webhook verification: wrong verify token")
        return web.Response(status=403, text="forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_ok(self.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.note_error("signature", "rejected a feed webhook: bad X-Hub-Signature-256")
            return web.Response(status=401, text="bad signature")
        records: list[ConnectorRecord] = []
        malformed: list[Malformed] = []
        try:
            payload = json.loads(body)
            entries = payload["entry"]
            if not isinstance(entries, list):
                raise TypeError("entry is not a list")
        except (ValueError, UnicodeDecodeError, TypeError, KeyError) as exc:
            malformed.append(Malformed(f"feed webhook: {exc!r}", body.decode("utf-8", "replace")))
            entries = []
        edited = False
        for entry in entries:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else []:
                try:
                    found, was_edit = self._change(entry, change)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    malformed.append(Malformed(f"feed change: {exc!r}", _raw(change)))
                    continue
                records.extend(found)
                edited = edited or was_edit
        state = {"versions": dict(self.versions)} if edited else None
        try:
            await self.submit(records, malformed, state)
        except ShuttingDown:
            return web.Response(status=503, text="shutting down")
        # Malformed changes are counted and skipped: a redelivery would not mend them.
        return web.Response(text="EVENT_RECEIVED")

    def _change(self, entry: dict[str, Any], change: Any) -> tuple[list[Comment], bool]:
        """The comments one feed change makes, and whether it was an edit."""
        if change.get("field") != "feed":
            return [], False
        value = change["value"]
        if value.get("item") != "comment":
            return [], False
        post = str(value.get("post_id", ""))
        if self.post_id and post != self.post_id and not post.endswith("_" + self.post_id):
            return [], False
        sender = value.get("from") or {}
        user_id = str(sender.get("id", ""))
        if user_id and user_id in (str(entry.get("id")), self.page_id):
            return [], False  # the Page's own comment: the host answering, not a buyer
        cid = value["comment_id"]
        if not isinstance(cid, str) or not cid:
            raise ValueError("no comment_id")
        created = value.get("created_time")
        ts = parse_created_time(created) if created is not None else self.clock()
        verb = value.get("verb")
        comment = Comment(
            stream=self.stream,
            comment_id=cid,
            user_id=user_id or f"anonymous:{cid}",
            user_name=str(sender.get("name", "")),
            text="",
            ts=ts,
            platform=PLATFORM,
        )
        current = self.versions.get(cid, cid)
        if verb == "add":
            text = value.get("message", "")
            if not isinstance(text, str):
                raise ValueError("message is not a string")
            return [msgspec.structs.replace(comment, text=text)], False
        if verb == "remove":
            return [msgspec.structs.replace(comment, comment_id=current, deleted=True)], False
        if verb == "edited":
            text = value.get("message", "")
            if not isinstance(text, str):
                raise ValueError("message is not a string")
            version = f"{cid}~{hashlib.sha256(text.encode()).hexdigest()[:12]}"
            if version == current:
                return [], False
            self.versions[cid] = version
            self.versions.move_to_end(cid)
            while len(self.versions) > VERSIONS_KEPT:
                self.versions.popitem(last=False)
            return [
                msgspec.structs.replace(comment, comment_id=current, deleted=True),
                msgspec.structs.replace(comment, comment_id=version, text=text),
            ], True
        return [], False  # hide, unhide: the Page's moderation


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--video",
        metavar="LIVE_VIDEO_ID",
        help="the live video: its comments are polled (with --listen: its post is matched, "
        "its end stops the listener)",
    )
    p.add_argument(
        "--listen",
        type=parse_listen,
        metavar="HOST:PORT",
        help="receive the Page's feed webhooks here (path /webhooks/facebook) instead of polling",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="seconds between polls when caught up (default %(default)s)",
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        help="seconds between reads of the viewers and status (default %(default)s)",
    )
    p.add_argument(
        "--page-size", type=int, default=100, help="comments per page (default %(default)s)"
    )
    p.add_argument(
        "--page-id",
        help="the Page: without --video its current live is read; its comments are skipped "
        "(default: the live video's `from`)",
    )
    p.add_argument("--post", help="with --listen: only comments on this post id")


def build(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> FacebookLive | FacebookPageWebhook:
    token = environ.get("FACEBOOK_ACCESS_TOKEN")
    live = None
    if args.video or not args.listen:
        if not token:
            raise UsageError("set FACEBOOK_ACCESS_TOKEN (a Page access token)")
        live = FacebookLive(
            args.stream,
            args.video,
            token,
            app_secret=environ.get("FACEBOOK_APP_SECRET"),
            graph_url=settings(environ).facebook_graph_url,
            interval=args.interval,
            status_every=args.status_every,
            page_size=args.page_size,
            page_id=args.page_id,
        )
    if not args.listen:
        assert live is not None
        return live
    secret, verify = environ.get("FACEBOOK_APP_SECRET"), environ.get("FACEBOOK_VERIFY_TOKEN")
    if not secret or not verify:
        raise UsageError("webhooks need FACEBOOK_APP_SECRET and FACEBOOK_VERIFY_TOKEN")
    host, port = args.listen
    return FacebookPageWebhook(
        args.stream, secret, verify, host, port, post_id=args.post, live=live
    )


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="Facebook Live comments (Graph API polling, or the Page feed webhooks)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
