from __future__ import annotations

import pytest

from chotdon.records import Comment, Intent, Item, RecordError, decode, encode


def test_records_round_trip_with_type_and_version() -> None:
    comment = Comment(stream="s", comment_id="c1", user_id="u", text="chốt 2 hộp", ts=1.5)
    intent = Intent(intent="order", items=[Item("OI-HOP", 2)], comment=comment)
    data = encode(intent)
    assert b'"type":"intent"' in data and b'"v":1' in data
    assert decode(data) == intent


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe garbage", b"{}", b'{"type": "nope"}', b'{"type": "comment", "stream": 1}', b"[]"],
)
def test_undecodable_bytes_raise_record_error(data: bytes) -> None:
    with pytest.raises(RecordError):
        decode(data)
