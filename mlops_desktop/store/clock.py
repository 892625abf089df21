"""Timestamps as stored in the project file: UTC, ISO 8601, millisecond precision."""

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
