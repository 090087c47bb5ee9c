"""Shopee Live: the Open Platform v2 livestream module, polled.
`chotdon ingest shopee --stream SESSION_ID` (the livestream session's numeric id).

- `livestream/get_latest_comment_list` (session_id, offset) answers `{"next_offset", "list":
  [{comment_id, content, timestamp, user_id, username}]}` from the comments of the last 10
  seconds only; `offset` is a start inside that window, not a lasting cursor (a saved offset
  points at different comments seconds later). So every poll reads the window from offset 0,
  follows `next_offset` page after page, and the run loop drops the comments already seen by
  `comment_id` (its recent ids are kept in the checkpoint, so a restart drops them too). A poll
  comes every `--poll-every` seconds (2 by default, 8 at most: the window must overlap). The
  first window of a fresh start is backlog (`history`).
- `get_session_metric` gives the viewers (`ccu`), `get_session_detail` the session's `status`
  (0 initial, 1 ongoing, 2 ended), both read every `--metrics-every` seconds; status 2 ends the
  session after one last window is read.
- The streamer's own comments (user_id = SHOPEE_USER_ID, the streamer's account) are skipped.
- Now selling: `get_show_item` (session_id) answers `{"item": {item_id, shop_id, name,
  image_url, price_info} | null}`, the product pinned on screen. Given the catalog's
  `platform_ids.shopee` (item id -> product code, `pinned`), it is read every `show_every`
  seconds (5), and each newly pinned catalog product becomes the stream's current product (a
  SetCurrent record). Only a change of pin does: the host's own switch on the feed stands until
  the next pin. An unpinned screen or an item outside the catalog changes nothing (said once).
  The answer's shape is from congminh1254/shopee-sdk (src/schemas/livestream.ts,
  GetShowItemResponse), which wraps the v2.livestream.get_show_item document; assumed as the
  SDK types it (`item` null when nothing is pinned).
- Livestream calls are Shopee "User" APIs: every request carries partner_id, timestamp,
  access_token, user_id and sign = hex HMAC-SHA256(partner_key, partner_id + api path +
  timestamp + access_token + user_id).
- Tokens: an access token lasts 4 hours, a refresh token 30 days and is replaced by each
  refresh. With SHOPEE_REFRESH_TOKEN set, the access token is renewed before it expires (and
  after Shopee refuses it) with `auth/access_token/get` (a public API: sign = HMAC-SHA256(
  partner_key, partner_id + path + timestamp); JSON body refresh_token, partner_id, user_id;
  answer access_token, refresh_token, expire_in), and the new pair is kept in
  CHOTDON_CHECKPOINT_DIR (mode 0600), so a restart uses the newest refresh token.
- Error bodies `{"error": "...", "message": "...", "request_id": ...}` map onto the base errors:
  a refused token, key or signature stops with a clear message; rate limits back off; the daily
  call limit stops; server errors are retried.

Source: Shopee Open Platform API v2 documents (open.shopee.com/documents/v2), livestream module
(v2.livestream.get_latest_comment_list, get_session_detail, get_session_metric, get_show_item)
and the authorization pages (v2.public.refresh_access_token; token lifetimes).

Credentials only from the environment: SHOPEE_PARTNER_ID, SHOPEE_PARTNER_KEY,
SHOPEE_ACCESS_TOKEN, SHOPEE_USER_ID (the streamer's Shopee user id) and, for renewal,
SHOPEE_REFRESH_TOKEN. CHOTDON_SHOPEE_API_URL points the connector at another host (Shopee's test
host, or tests).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from chotdon.config import settings
from chotdon.records import Comment, SetCurrent, ViewerCount

from .base import (
    AuthError,
    ConnectorError,
    Deduper,
    QuotaExceeded,
    RateLimited,
    SessionEnded,
    TransientError,
    state_file,
)
from .runner import Batch, Malformed, Platform, UsageError
from .tokens import Grant, Refresh, RefreshingToken, TokenStore

PLATFORM = "shopee"
PREFIX = "/api/v2/livestream/"
AUTH_PATH = "/api/v2/auth/access_token/get"
TOKEN_HOURS = 4  # an access token's lifetime
WINDOW = 10.0  # seconds of comments the API keeps
POLL_SHARE = 0.8  # polls at most this share of the window apart: consecutive windows overlap
QUICK_RETRIES = 3  # tries of a failed window page before the run loop's backoff
QUICK_RETRY_SHARE = 0.05  # of the window, between them
MAX_PAGES = 50  # per poll: a bound, should `next_offset` never run dry
SHOW_EVERY = 5.0  # seconds between reads of the pinned product
ENDED = 2  # get_session_detail status: 0 initial, 1 ongoing, 2 ended
AUTH_ERRORS = frozenset(
    {
        "error_auth",
        "error_sign",
        "invalid_acceess_token",  # sic: Shopee's own spelling
        "invalid_access_token",
        "invalid_partner_id",
        "error_partner_key_expired",
        "error_api_permission",
        "error_api_call_restricted",
        "source_ip_undeclared",
        "user_no_linked",
        "user_banned",
    }
)


class ShopeeConnector:
    platform = PLATFORM

    def __init__(
        self,
        stream: str,
        *,
        partner_id: str,
        partner_key: str,
        access_token: str,
        user_id: str,
        token: RefreshingToken | None = None,
        api_url: str | None = None,
        poll_every: float = 2.0,
        metrics_every: float = 10.0,
        timeout: float = 8.0,
        window: float = WINDOW,
        session_id: str | None = None,
        pinned: Mapping[str, str] | None = None,
        show_every: float = SHOW_EVERY,
    ) -> None:
        self.session_id = session_id or stream
        if not self.session_id.isdigit():
            raise UsageError(f"a Shopee session id is a number, not {self.session_id!r}")
        if not 0 <= poll_every <= window * POLL_SHARE:
            raise UsageError(
                f"--poll-every must be at most {window * POLL_SHARE:g}s: Shopee keeps comments "
                f"{window:g}s only"
            )
        self.stream = stream
        self.partner_id = partner_id
        self.partner_key = partner_key.encode()
        self.access_token = access_token
        self.token = token
        self.user_id = user_id
        self.api_url = (api_url or settings().shopee_api_url).rstrip("/")
        self.poll_every = poll_every
        self.metrics_every = metrics_every
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.fresh = True  # no window read yet: the first one is backlog
        self.window = window
        self._window_read = 0.0  # monotonic time the last whole window was read
        self._malformed_seen = Deduper(1_000)
        self._metrics_due = 0.0
        self.pinned = dict(pinned or {})  # Shopee item id -> the catalog product's code
        self.show_every = show_every
        self._show_due = 0.0
        self._shown: str | None = None  # the item id pinned at the last read

    def restore(self, state: Mapping[str, Any]) -> None:
        self.fresh = not state.get("polled")

    async def batches(self) -> AsyncIterator[Batch]:
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            while True:
                ended = False
                if time.monotonic() >= self._metrics_due:
                    ended, viewers = await self._session_figures(http)
                    yield Batch(viewers, requests=2)
                if self.pinned and time.monotonic() >= self._show_due:
                    yield await self._pinned_product(http)
                async for batch in self._window(http, wait=0.0 if ended else self.poll_every):
                    yield batch
                if ended:
                    raise SessionEnded(f"Shopee session {self.session_id} ended (status 2)")

    async def _window(self, http: aiohttp.ClientSession, wait: float) -> AsyncIterator[Batch]:
        """Every page of the last 10 seconds' comments, from offset 0; the last page waits.
        When more than the window passed since the last one read (a long outage), comments
        may be lost: that is counted and said (error kind "gap")."""
        offset = 0
        started = time.monotonic()
        gap = None
        if self._window_read and started - self._window_read > self.window:
            lost = started - self._window_read - self.window
            gap = ("gap", f"up to {lost:.1f}s of comments may be lost: Shopee keeps 10 s only")
        for _ in range(MAX_PAGES):
            page, retried = await self._comment_page(http, offset)
            comments, malformed = self._read_page(page, self.fresh)
            next_offset = page.get("next_offset")
            if not isinstance(next_offset, int) or next_offset <= offset:
                next_offset = None
            more = bool(comments or malformed) and next_offset is not None
            yield Batch(
                comments,
                state={"polled": True},
                wait=0.0 if more else wait,
                malformed=malformed,
                requests=1,
                errors=[gap, *retried] if gap and offset == 0 else retried,
            )
            if not more or next_offset is None:
                break
            offset = next_offset
        self.fresh = False
        self._window_read = started

    async def _comment_page(
        self, http: aiohttp.ClientSession, offset: int
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """A page of the window, and the failures retried on the way (counted, not raised). A
        transient failure (not a rate limit) is retried at once, a few times within the window:
        the run loop's backoff (up to a minute) would let the window pass."""
        retried: list[tuple[str, str]] = []
        for attempt in range(1, QUICK_RETRIES + 1):
            try:
                page = await self._call(
                    http,
                    "get_latest_comment_list",
                    {"session_id": self.session_id, "offset": str(offset)},
                )
                return page, retried
            except TransientError as exc:
                if isinstance(exc, RateLimited) or attempt == QUICK_RETRIES:
                    raise
                retried.append((exc.kind, f"{exc}; retrying at once"))
                await asyncio.sleep(self.window * QUICK_RETRY_SHARE)
        raise AssertionError("unreachable")

    async def _session_figures(self, http: aiohttp.ClientSession) -> tuple[bool, list[ViewerCount]]:
        """Whether the session ended (status 2), and its viewers."""
        session = {"session_id": self.session_id}
        detail = await self._call(http, "get_session_detail", session)
        metric = await self._call(http, "get_session_metric", session)
        self._metrics_due = time.monotonic() + self.metrics_every
        ccu = metric.get("ccu")
        viewers = []
        if isinstance(ccu, int) and not isinstance(ccu, bool) and ccu >= 0:
            viewers.append(ViewerCount(self.stream, ccu, time.time(), PLATFORM))
        return detail.get("status") == ENDED, viewers

    async def _pinned_product(self, http: aiohttp.ClientSession) -> Batch:
        """A newly pinned catalog product as the current one. A refusal other than the
        credentials' is counted (kind "show_item") and the comments go on."""
        self._show_due = time.monotonic() + self.show_every
        try:
            shown = await self._call(http, "get_show_item", {"session_id": self.session_id})
        except AuthError:
            raise
        except ConnectorError as exc:
            return Batch(requests=1, errors=[("show_item", f"{exc}; the pinned product unread")])
        item = shown.get("item")
        try:
            item_id = _id(item["item_id"]) if isinstance(item, dict) else None
        except (KeyError, ValueError) as exc:
            raw = json.dumps(shown, ensure_ascii=False)
            return Batch(requests=1, malformed=[Malformed(f"unreadable show item ({exc!r})", raw)])
        if item_id == self._shown:
            return Batch(requests=1)
        self._shown = item_id
        code = self.pinned.get(item_id) if item_id else None
        if code is None:
            notes = [
                f"Shopee: sản phẩm đang ghim (item {item_id}) không có trong catalog "
                "(platform_ids.shopee): sản phẩm đang bán giữ nguyên"
            ]
            return Batch(requests=1, notes=notes if item_id else [])
        return Batch([SetCurrent(self.stream, code, time.time())], requests=1)

    def _read_page(
        self, page: dict[str, Any], history: bool
    ) -> tuple[list[Comment], list[Malformed]]:
        items = page.get("list") or []
        if not isinstance(items, list):
            return [], [Malformed("`list` is not a list", json.dumps(page, ensure_ascii=False))]
        comments: list[Comment] = []
        malformed: list[Malformed] = []
        for item in items:
            try:
                comment = Comment(
                    stream=self.stream,
                    comment_id=_id(item["comment_id"]),
                    user_id=_id(item["user_id"]),
                    user_name=str(item.get("username") or ""),
                    text=_text(item["content"]),
                    ts=float(item["timestamp"]),
                    platform=PLATFORM,
                    history=history,
                )
            except (KeyError, TypeError, ValueError) as exc:
                raw = json.dumps(item, ensure_ascii=False)
                if self._malformed_seen.first_time(raw):  # the window shows it several times
                    malformed.append(Malformed(f"unreadable comment ({exc!r})", raw))
                continue
            if comment.user_id != self.user_id:  # the streamer talking is not an order
                comments.append(comment)
        return comments, malformed

    def sign(self, path: str, timestamp: int, access_token: str | None = None) -> str:
        token = self.access_token if access_token is None else access_token
        base = f"{self.partner_id}{path}{timestamp}{token}{self.user_id}"
        return hmac.new(self.partner_key, base.encode(), hashlib.sha256).hexdigest()

    async def reply(self, http: aiohttp.ClientSession, comment_id: str, text: str) -> None:
        """Post `text` as the streamer's comment in the session (v2.livestream.post_comment,
        JSON body session_id and content). The live's comments have no threads: the text names
        the buyer."""
        body = {"session_id": int(self.session_id), "content": text}
        await self._call(http, "post_comment", {}, body=body)

    async def _call(
        self,
        http: aiohttp.ClientSession,
        api: str,
        params: dict[str, str],
        *,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One signed GET (POST `body` when given); its `response` object, or the base error its
        body names. A refused token is renewed once when a refresh token is there."""
        try:
            return await self._call_once(http, api, params, body)
        except AuthError:
            if self.token is None:
                raise
            await self.token.renew(http)
            return await self._call_once(http, api, params, body)

    async def _call_once(
        self,
        http: aiohttp.ClientSession,
        api: str,
        params: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        path = PREFIX + api
        timestamp = int(time.time())
        token = await self.token.get(http) if self.token else self.access_token
        query = {
            "partner_id": self.partner_id,
            "timestamp": str(timestamp),
            "access_token": token,
            "user_id": self.user_id,
            "sign": self.sign(path, timestamp, token),
            **params,
        }
        verb = "GET" if body is None else "POST"
        try:
            async with http.request(verb, self.api_url + path, params=query, json=body) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{api}: {exc!r}", posting=body is not None) from exc
        return _response(api, status, raw)

    def refresher(self) -> Refresh:
        """Shopee's refresh call (auth/access_token/get), for a RefreshingToken."""

        async def refresh(http: aiohttp.ClientSession, refresh_token: str) -> Grant:
            path = AUTH_PATH
            timestamp = int(time.time())
            base = f"{self.partner_id}{path}{timestamp}".encode()
            query = {
                "partner_id": self.partner_id,
                "timestamp": str(timestamp),
                "sign": hmac.new(self.partner_key, base, hashlib.sha256).hexdigest(),
            }
            body = {
                "refresh_token": refresh_token,
                "partner_id": int(self.partner_id),
                "user_id": int(self.user_id),
            }
            try:
                async with http.post(self.api_url + path, params=query, json=body) as response:
                    raw, status = await response.read(), response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise TransientError(f"token refresh: {exc!r}") from exc
            answer = _json_body("access_token/get", status, raw)
            if answer.get("error"):
                raise AuthError(
                    f"Shopee refused to renew the token ({answer['error']}: "
                    f"{answer.get('message', '')}); authorise the app again and set a new "
                    "SHOPEE_REFRESH_TOKEN"
                )
            expire_in = answer.get("expire_in")
            return Grant(
                str(answer.get("access_token") or ""),
                float(expire_in) if isinstance(expire_in, int | float) else TOKEN_HOURS * 3600,
                str(answer["refresh_token"]) if answer.get("refresh_token") else None,
            )

        return refresh


def _json_body(api: str, status: int, raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        what = f"{api}: HTTP {status} {raw[:200]!r}"
        raise RateLimited(what) if status == 429 else TransientError(what)
    return body


def _response(api: str, status: int, raw: bytes) -> dict[str, Any]:
    body = _json_body(api, status, raw)
    if body.get("error"):
        raise _error(api, status, str(body["error"]), str(body.get("message", "")))
    if status != 200 or not isinstance(body.get("response"), dict):
        raise TransientError(f"{api}: HTTP {status} without a response")
    result: dict[str, Any] = body["response"]
    return result


def _error(api: str, status: int, code: str, message: str) -> ConnectorError:
    what = f"{api}: {code}: {message}"
    if code in AUTH_ERRORS or "not belong to you" in message:
        return AuthError(
            f"Shopee refused the credentials ({code}: {message}); check SHOPEE_PARTNER_ID, "
            "SHOPEE_PARTNER_KEY, SHOPEE_USER_ID and a fresh SHOPEE_ACCESS_TOKEN (it lasts 4 hours)"
        )
    if code == "error_limit":
        return QuotaExceeded(f"Shopee's daily API call limit for this app is spent ({message})")
    if code == "error_rate_limit" or "too many requests" in message.lower() or status == 429:
        return RateLimited(what)
    if code in ("error_server", "error_network", "error_inner") or status >= 500:
        return TransientError(what)
    return ConnectorError(what)  # error_param, error_data...: retrying will not help


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ValueError(f"not an id: {value!r}")
    return str(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"content is not text: {value!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--session", help="the livestream session id (default: the --stream id)", default=None
    )
    parser.add_argument(
        "--poll-every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help=f"seconds between polls (at most {WINDOW * POLL_SHARE:g}: Shopee keeps {WINDOW:g}s; "
        "default 2)",
    )
    parser.add_argument(
        "--metrics-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between reads of the viewers and the session's status (default 10)",
    )


def build(args: argparse.Namespace, env: Mapping[str, str]) -> ShopeeConnector:
    names = ("SHOPEE_PARTNER_ID", "SHOPEE_PARTNER_KEY", "SHOPEE_ACCESS_TOKEN", "SHOPEE_USER_ID")
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise UsageError(f"Shopee needs {', '.join(missing)} in the environment")
    conf = settings(env)
    connector = ShopeeConnector(
        args.stream,
        partner_id=env["SHOPEE_PARTNER_ID"],
        partner_key=env["SHOPEE_PARTNER_KEY"],
        access_token=env["SHOPEE_ACCESS_TOKEN"],
        user_id=env["SHOPEE_USER_ID"],
        api_url=conf.shopee_api_url,
        poll_every=args.poll_every,
        metrics_every=args.metrics_every,
        session_id=args.session,
    )
    if env.get("SHOPEE_REFRESH_TOKEN"):
        store = TokenStore(state_file(conf.checkpoint_dir, PLATFORM, args.stream, ".tokens"))
        connector.token = RefreshingToken(
            env["SHOPEE_ACCESS_TOKEN"],
            env["SHOPEE_REFRESH_TOKEN"],
            connector.refresher(),
            store=store,
        )
    return connector


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="Shopee Live comments (Open Platform v2 livestream API)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
