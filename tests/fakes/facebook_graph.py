"""A local Graph API that speaks the live video wire format, for the Facebook connector's tests.

- GET /v25.0/{live-video-id}/comments: `filter=stream`, `live_filter=no_filter` and
  `order=chronological` are required (anything else is Graph's code 100), `since` keeps comments
  created at or after that unix second, `limit` caps a page, `after` continues after a cursor.
  Answers {"data": [{"id", "message", "from": {"id", "name"}, "created_time":
  "2026-11-27T08:00:05+0000"}], "paging": {"cursors": {"before", "after"}, "next": url}}, with
  `next` only when more comments follow (its URL carries the access token, as Graph's does).
- GET /v25.0/{live-video-id}?fields=status,live_views,from,video: {"status", "live_views",
  "from": {"id", "name"} (the Page broadcasting), "video": {"id"}, "id"}; `status` is one of the
  LiveVideo statuses (LIVE, LIVE_STOPPED, ..., SCHEDULED_CANCELED, SCHEDULED_EXPIRED).
- GET /v25.0/{page-id}/live_videos?broadcast_status=["LIVE"]: {"data": [{"id", "status"}]}.
- POST /v25.0/{page-id}/messages {"recipient": {"comment_id"}, "message": {"text"}}: a Private
  Reply (developers.facebook.com/docs/messenger-platform/discovery/private-replies): one per
  comment - a second answers error 10900 "Activity already replied to"; answers
  {"recipient_id", "message_id"}. POST /v25.0/{comment-id}/comments?message=: a public reply,
  {"id"}. `replies` keeps (kind, comment id, text).
- Every answer carries the usage headers of developers.facebook.com/docs/graph-api/overview/
  rate-limiting: X-App-Usage {"call_count", "total_cputime", "total_time"} and
  X-Business-Use-Case-Usage {business id: [{"type": "pages", "call_count", "total_cputime",
  "total_time", "estimated_time_to_regain_access"}]}, percentages a test sets (`usage`, or
  `usage_by_poll` rising poll by poll).
- A wrong or expired token answers {"error": {"message", "type": "OAuthException", "code": 190,
  "error_subcode": 463, "fbtrace_id"}}.

Tests script it: `add` comments, `arrive(poll, ...)` comments that appear when the n-th poll
starts (a poll starts with a request without `after`), `end_at(poll)`, and `fail(...)` the next
matching requests with a Graph error, a 502, garbage, a dropped connection or (a reply only) no
answer until the fake stops.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import pytest
from aiohttp import web

VERSION = "v25.0"
TOKEN = "EAAGtest-page-token"
PAGE_ID = "102938475610293"
BUSINESS_ID = "556677889900"
MAX_LIMIT = 100

MESSAGES = {
    2: "An unexpected error has occurred. Please retry your request later.",
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    613: "Calls to this api have exceeded the rate limit.",
    80001: "There have been too many calls to this Page account. Wait a bit and try again.",
}

FailureKind = Literal["graph", "502", "drop", "garbage", "stall"]


@dataclass
class Failure:
    kind: FailureKind
    path: Literal["comments", "video", "reply"] = "comments"
    code: int = 0
    subcode: int | None = None
    http_status: int = 400
    headers: dict[str, str] = field(default_factory=dict)
    on_page: int | None = None  # only a request for this page of a poll (1 = first)
    comment: str | None = None  # only a public reply to this comment


def comment(
    cid: str, text: str, created: int, user: str | None = "100001", name: str = "Lan Nguyễn"
) -> dict[str, Any]:
    """A comment as Graph returns it (`user=None`: the token may not see its author)."""
    raw: dict[str, Any] = {
        "id": cid,
        "message": text,
        "created_time": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
    }
    if user is not None:
        raw["from"] = {"id": user, "name": name}
    return raw


def _created(raw: dict[str, Any]) -> float:
    return datetime.strptime(raw["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()


def _cursor(cid: str) -> str:
    return base64.urlsafe_b64encode(cid.encode()).decode()


class FakeGraph:
    def __init__(self, video_id: str = "771234567890123", token: str = TOKEN) -> None:
        self.video_id = video_id
        self.token = token
        self.comments: list[tuple[float, dict[str, Any]]] = []  # (created, comment)
        self.status = "LIVE"
        self.live_views = 0
        self.polls = 0
        self.arrivals: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.end_poll: int | None = None
        self.expire_poll: int | None = None
        self.failures: list[Failure] = []
        self.cursors = True  # False: paging has only `next` (time-based paging does that)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.errors_served: list[str] = []
        self.page_id = PAGE_ID
        self.replies: list[tuple[str, str, str]] = []
        self.usage = 0  # percent of the app's and the Page's limits used
        self.usage_by_poll: dict[int, int] = {}  # from that poll on, this usage
        self.base_url = ""
        self._page_in_poll = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- scripting ------------------------------------------------------------------------

    def add(self, *comments: dict[str, Any]) -> None:
        for raw in comments:
            try:
                created = _created(raw)
            except (KeyError, ValueError):  # a malformed comment keeps its place
                created = self.comments[-1][0] if self.comments else 0.0
            self.comments.append((created, raw))

    def arrive(self, poll: int, *comments: dict[str, Any]) -> None:
        self.arrivals[poll].extend(comments)

    def end_at(self, poll: int) -> None:
        """The video is LIVE_STOPPED from the status read after the `poll`-th poll."""
        self.end_poll = poll

    def fail(self, failure: Failure, times: int = 1) -> None:
        self.failures.extend(itertools.repeat(failure, times))

    def expire_at(self, poll: int) -> None:
        """The token expires when the `poll`-th poll starts."""
        self.expire_poll = poll

    # -- serving --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(f"/{VERSION}/{{video}}/comments", self._comments)
        app.router.add_get(f"/{VERSION}/{{page}}/live_videos", self._live_videos)
        app.router.add_post(f"/{VERSION}/{{page}}/messages", self._private_reply)
        app.router.add_post(f"/{VERSION}/{{video}}/comments", self._public_reply)
        app.router.add_get(f"/{VERSION}/{{video}}", self._video)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/{VERSION}"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _failure(self, request: web.Request, path: str) -> web.StreamResponse | None:
        for i, failure in enumerate(self.failures):
            if failure.path != path:
                continue
            if failure.on_page is not None and failure.on_page != self._page_in_poll:
                continue
            if failure.comment is not None and failure.comment != request.match_info.get("video"):
                continue
            del self.failures[i]
            self.errors_served.append(
                failure.kind if failure.kind != "graph" else str(failure.code)
            )
            if failure.kind == "drop":
                return await _drop(request)
            if failure.kind == "502":
                return web.Response(status=502, text="<html>502 Bad Gateway</html>")
            if failure.kind == "stall":
                await self._stopping.wait()
                return web.Response(status=503)
            if failure.kind == "garbage":
                return web.Response(text="<html>not json</html>", content_type="text/html")
            error = {
                "message": f"(#{failure.code}) {MESSAGES.get(failure.code, 'Graph error')}",
                "type": "OAuthException",
                "code": failure.code,
                "fbtrace_id": "AbCdEfGhIjK",
            }
            if failure.subcode is not None:
                error["error_subcode"] = failure.subcode
            return web.json_response(
                {"error": error}, status=failure.http_status, headers=failure.headers
            )
        return None

    def _refuse(self, request: web.Request) -> web.Response | None:
        if request.match_info["video"] != self.video_id:
            return _graph_error(100, "Unsupported get request. Object does not exist", 33)
        if request.query.get("access_token") != self.token:
            self.errors_served.append("190")
            return _graph_error(
                190,
                "Error validating access token: Session has expired on Friday, 27-Nov-26.",
                463,
            )
        return None

    def _usage_headers(self) -> dict[str, str]:
        for poll in sorted(self.usage_by_poll):
            if self.polls >= poll:
                self.usage = self.usage_by_poll[poll]
        app = {"call_count": self.usage, "total_cputime": self.usage // 2, "total_time": 1}
        business = {
            BUSINESS_ID: [
                {
                    "type": "pages",
                    "call_count": self.usage // 2,
                    "total_cputime": self.usage,
                    "total_time": self.usage // 3,
                    "estimated_time_to_regain_access": 0,
                }
            ]
        }
        return {
            "X-App-Usage": json.dumps(app),
            "X-Business-Use-Case-Usage": json.dumps(business),
        }

    async def _private_reply(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("access_token") != self.token:
            return _graph_error(190, "Error validating access token", 463)
        if request.match_info["page"] != self.page_id:
            return _graph_error(100, "Unsupported post request. Object does not exist", 33)
        body = await request.json()
        target = body.get("recipient", {}).get("comment_id")
        text = body.get("message", {}).get("text")
        if not isinstance(target, str) or not isinstance(text, str) or not text:
            return _graph_error(100, "(#100) recipient.comment_id and message.text are required")
        if any(kind == "private" and cid == target for kind, cid, _ in self.replies):
            return _graph_error(10900, "(#10900) Activity already replied to")
        self.replies.append(("private", target, text))
        return web.json_response({"recipient_id": "6789012345", "message_id": f"m_{target}"})

    async def _public_reply(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("access_token") != self.token:
            return _graph_error(190, "Error validating access token", 463)
        if failed := await self._failure(request, "reply"):
            return failed
        text = request.query.get("message", "")
        if not text:
            return _graph_error(100, "(#100) message is required")
        target = request.match_info["video"]
        self.replies.append(("public", target, text))
        return web.json_response({"id": f"{target}_reply"})

    async def _live_videos(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(("live_videos", dict(request.query)))
        if request.match_info["page"] != self.page_id:
            return _graph_error(100, "Unsupported get request. Object does not exist", 33)
        if request.query.get("broadcast_status") != '["LIVE"]':
            return _graph_error(100, '(#100) broadcast_status must be ["LIVE"] in this fake')
        live = [{"id": self.video_id, "status": self.status}] if self.status == "LIVE" else []
        return web.json_response({"data": live}, headers=self._usage_headers())

    async def _video(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(("video", dict(request.query)))
        refused = await self._failure(request, "video") or self._refuse(request)
        if refused is not None:
            return refused
        if self.end_poll is not None and self.polls >= self.end_poll:
            self.status = "LIVE_STOPPED"
        body: dict[str, Any] = {"id": self.video_id}
        fields = request.query.get("fields", "").split(",")
        if "status" in fields:
            body["status"] = self.status
        if "live_views" in fields:
            body["live_views"] = self.live_views
        if "from" in fields:
            body["from"] = {"id": self.page_id, "name": "Ổi Kim An"}
        if "video" in fields:
            body["video"] = {"id": str(int(self.video_id) + 1)}
        return web.json_response(body, headers=self._usage_headers())

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(("comments", query))
        if "after" not in query:
            self.polls += 1
            self._page_in_poll = 1
            self.add(*self.arrivals.pop(self.polls, []))
            if self.polls == self.expire_poll:
                self.token = "a token nobody has"
        else:
            self._page_in_poll += 1
        refused = await self._failure(request, "comments") or self._refuse(request)
        if refused is not None:
            return refused
        wanted = {"filter": "stream", "live_filter": "no_filter", "order": "chronological"}
        for name, value in wanted.items():
            if query.get(name) != value:
                return _graph_error(100, f"(#100) {name} must be {value} in this fake")
        since = float(query.get("since", "0"))
        # Stable: same-second comments keep their arrival order.
        ordered = sorted(self.comments, key=lambda c: c[0])
        found = [raw for created, raw in ordered if created >= since]
        if "after" in query:
            ids = [_cursor(c["id"]) for c in found]
            if query["after"] not in ids:
                return _graph_error(100, "(#100) Invalid cursor")
            found = found[ids.index(query["after"]) + 1 :]
        limit = min(int(query.get("limit", "25")), MAX_LIMIT)
        page, rest = found[:limit], found[limit:]
        body: dict[str, Any] = {"data": page}
        if page:
            paging: dict[str, Any] = {}
            if self.cursors:
                paging["cursors"] = {
                    "before": _cursor(page[0]["id"]),
                    "after": _cursor(page[-1]["id"]),
                }
            if rest:
                following = {**query, "after": _cursor(page[-1]["id"])}
                paging["next"] = f"{self.base_url}/{self.video_id}/comments?{urlencode(following)}"
            body["paging"] = paging
        return web.json_response(body, headers=self._usage_headers())


async def _drop(request: web.Request) -> web.StreamResponse:
    """Start a 200 answer, then close the socket in the middle of its body."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 4096
    await response.prepare(request)
    await response.write(b'{"data": [{"id": "771234567890123_')
    assert request.transport is not None
    request.transport.close()
    return response


def _graph_error(code: int, message: str, subcode: int | None = None) -> web.Response:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException" if code == 190 else "GraphMethodException",
        "code": code,
        "fbtrace_id": "AxYz0123456",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=400)


@pytest.fixture(name="graph")
async def graph_fixture() -> AsyncIterator[FakeGraph]:
    """A FakeGraph serving on 127.0.0.1 for one test (import it into the test module)."""
    fake = FakeGraph()
    await fake.start()
    yield fake
    await fake.stop()
