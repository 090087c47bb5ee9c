"""Times as analysts type and read them: Vietnam's local time, or unix seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving since 1975: a fixed offset
VIETNAM_TZ_NAME = "Asia/Ho_Chi_Minh"  # what Parquet timestamps carry, for pandas and DuckDB


def parse_time(text: str) -> float:
    """Unix seconds ("1764230400") or an ISO time ("2025-11-27T15:05", "2025-11-27 15:05:30+07:00");
    an ISO time without an offset is Vietnam's local time."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is neither unix seconds nor an ISO time (e.g. 2025-11-27T15:05)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.timestamp()


def local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, VIETNAM)


def iso(ts: float) -> str:
    """2025-11-27T15:00:00.838+07:00 (milliseconds: the platforms' precision)."""
    return local(ts).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end) in unix seconds; None leaves that side open."""

    start: float | None = None
    end: float | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> TimeRange:
        span = cls(parse_time(start) if start else None, parse_time(end) if end else None)
        if span.start is not None and span.end is not None and span.end <= span.start:
            raise ValueError("--to must be after --from")
        return span

    def __contains__(self, ts: float) -> bool:
        return (self.start is None or ts >= self.start) and (self.end is None or ts < self.end)

    @property
    def everything(self) -> bool:
        return self.start is None and self.end is None


ALL_TIME = TimeRange()
