"""Pushing to the webhook connectors as their senders do: the generic webhook's clients, and
Facebook delivering Page `feed` changes (signed with the app secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    async with http.post(url, data=body, headers=headers) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def push(http: aiohttp.ClientSession, url: str, secret: str, payload: Any) -> tuple[int, Any]:
    """POST a payload to the generic webhook, signed with the source's secret."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Chotdon-Signature": sign(secret, body)}
    return await post(http, url, body, headers)


def feed_change(
    verb: str,
    comment_id: str,
    *,
    message: str | None = None,
    user: str = "100001",
    name: str = "Lan Nguyễn",
    post_id: str = "102938475610293_771234567890123",
    created: int = 1_795_737_600,
) -> dict[str, Any]:
    """One `feed` change for a comment, as Graph sends it."""
    value: dict[str, Any] = {
        "from": {"id": user, "name": name},
        "post_id": post_id,
        "comment_id": comment_id,
        "parent_id": post_id,
        "created_time": created,
        "item": "comment",
        "verb": verb,
    }
    if message is not None:
        value["message"] = message
    return {"field": "feed", "value": value}


def feed_payload(*changes: dict[str, Any], page_id: str = "102938475610293") -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": 1_795_737_601_000, "changes": list(changes)}],
    }


async def deliver(
    http: aiohttp.ClientSession, url: str, app_secret: str, payload: Any
) -> tuple[int, Any]:
    """Facebook's delivery: the raw JSON body signed in X-Hub-Signature-256."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, body)}
    return await post(http, url, body, headers)
