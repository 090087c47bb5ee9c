"""Shopee Live: the Open Platform v2 livestream module, polled.
`chotdon ingest shopee --stream SESSION_ID` (the livestream session's numeric id).

- `livestream/get_latest_comment_list` (session_id, offset) answers `{"next_offset", "list":
  [{comment_id, content, timestamp, user_id, username}]}` and keeps only the last 10 seconds, so
  a poll comes every `--poll-every` seconds (2 by default, 8 at most) and follows `next_offset`
  page after page until a page comes back empty. The first page of a fresh start is backlog
  (`history`); a restart resumes from its saved offset.
- `get_session_metric` gives the viewers (`ccu`), `get_session_detail` the session's `status`
  (2: ended), both read every `--metrics-every` seconds.
- Livestream calls are Shopee "User" APIs: every request carries partner_id, timestamp,
  access_token, user_id and sign = hex HMAC-SHA256(partner_key, partner_id + api path +
  timestamp + access_token + user_id).
- Error bodies `{"error": "...", "message": "...", "request_id": ...}` map onto the base errors:
  a refused token, key or signature stops with a clear message; rate limits back off; the daily
  call limit stops; server errors are retried; "session ... is not ongoing" ends the session.

Credentials only from the environment: SHOPEE_PARTNER_ID, SHOPEE_PARTNER_KEY,
SHOPEE_ACCESS_TOKEN (valid 4 hours) and SHOPEE_USER_ID (the streamer's Shopee user id).
CHOTDON_SHOPEE_API_URL points the connector at another host (Shopee's test host, or tests).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
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

PLATFORM = "shopee"
PREFIX = "/api/v2/livestream/"
WINDOW = 10.0  # seconds of comments the API keeps
MAX_PAGES = 50  # per poll: a bound, should `next_offset` never run dry
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
        api_url: str | None = None,
        poll_every: float = 2.0,
        metrics_every: float = 10.0,
        timeout: float = 8.0,
    ) -> None:
        if not stream.isdigit():
            raise UsageError(f"a Shopee session id is a number, not {stream!r}")
        if not 0 <= poll_every <= WINDOW - 2:
            raise UsageError(
                f"--poll-every must be at most {WINDOW - 2:g}s: Shopee keeps comments "
                f"{WINDOW:g}s only"
            )
        self.stream = stream
        self.partner_id = partner_id
        self.partner_key = partner_key.encode()
        self.access_token = access_token
        self.user_id = user_id
        self.api_url = (api_url or settings().shopee_api_url).rstrip("/")
        self.poll_every = poll_every
        self.metrics_every = metrics_every
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.offset: int | None = None
        self._metrics_due = 0.0

    def restore(self, state: Mapping[str, Any]) -> None:
        offset = state.get("offset")
        self.offset = offset if isinstance(offset, int) else None

    async def batches(self) -> AsyncIterator[Batch]:
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            while True:
                if time.monotonic() >= self._metrics_due:
                    yield Batch(await self._session_figures(http), requests=2)
                for _ in range(MAX_PAGES):
                    # The first page of a fresh start holds what the last 10 seconds did.
                    history = self.offset is None
                    page = await self._call(
                        http,
                        "get_latest_comment_list",
                        {"session_id": self.stream, "offset": str(self.offset or 0)},
                    )
                    comments, malformed = self._read_page(page, history)
                    next_offset = page.get("next_offset")
                    moved = isinstance(next_offset, int) and next_offset != self.offset
                    if moved:
                        self.offset = next_offset
                    done = not moved or not (comments or malformed)
                    yield Batch(
                        comments,
                        state={"offset": self.offset},
                        wait=self.poll_every if done else 0.0,
                        malformed=malformed,
                        requests=1,
                    )
                    if done:
                        break

    async def _session_figures(self, http: aiohttp.ClientSession) -> list[ConnectorRecord]:
        detail = await self._call(http, "get_session_detail", {"session_id": self.stream})
        if detail.get("status") == ENDED:
            raise SessionEnded(f"Shopee session {self.stream} ended")
        metric = await self._call(http, "get_session_metric", {"session_id": self.stream})
        self._metrics_due = time.monotonic() + self.metrics_every
        ccu = metric.get("ccu")
        if isinstance(ccu, int) and ccu >= 0:
            return [ViewerCount(self.stream, ccu, time.time(), PLATFORM)]
        return []

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
                comments.append(
                    Comment(
                        stream=self.stream,
                        comment_id=_id(item["comment_id"]),
                        user_id=_id(item["user_id"]),
                        user_name=str(item.get("username") or ""),
                        text=_text(item["content"]),
                        ts=float(item["timestamp"]),
                        platform=PLATFORM,
                        history=history,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raw = json.dumps(item, ensure_ascii=False)
                malformed.append(Malformed(f"unreadable comment ({exc!r})", raw))
        return comments, malformed

    def sign(self, path: str, timestamp: int) -> str:
        base = f"{self.partner_id}{path}{timestamp}{self.access_token}{self.user_id}"
        return hmac.new(self.partner_key, base.encode(), hashlib.sha256).hexdigest()

    async def _call(
        self, http: aiohttp.ClientSession, api: str, params: dict[str, str]
    ) -> dict[str, Any]:
        """One signed GET; its `response` object, or the base error its body names."""
        path = PREFIX + api
        timestamp = int(time.time())
        query = {
            "partner_id": self.partner_id,
            "timestamp": str(timestamp),
            "access_token": self.access_token,
            "user_id": self.user_id,
            "sign": self.sign(path, timestamp),
            **params,
        }
        try:
            async with http.get(self.api_url + path, params=query) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{api}: {exc!r}") from exc
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            what = f"{api}: HTTP {status} {raw[:200]!r}"
            raise RateLimited(what) if status == 429 else TransientError(what)
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
    if "not ongoing" in message:
        return SessionEnded(f"Shopee session is not ongoing ({message})")
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
        "--poll-every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help=f"seconds between polls (at most {WINDOW - 2:g}: Shopee keeps {WINDOW:g}s; default 2)",
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
    return ShopeeConnector(
        args.stream,
        partner_id=env["SHOPEE_PARTNER_ID"],
        partner_key=env["SHOPEE_PARTNER_KEY"],
        access_token=env["SHOPEE_ACCESS_TOKEN"],
        user_id=env["SHOPEE_USER_ID"],
        api_url=settings(env).shopee_api_url,
        poll_every=args.poll_every,
        metrics_every=args.metrics_every,
    )


PLATFORM_SPEC = Platform(
    name=PLATFORM,
    help="Shopee Live comments (Open Platform v2 livestream API)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
)
