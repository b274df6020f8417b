"""`Dispatch`: one export attempt, as a dispatch listener (`Store.on_dispatch`) sees it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, List

__all__ = ["Dispatch"]


@dataclass(frozen=True)
class Dispatch:
    """One export attempt of one exporter (retries are attempts too).

    `data` is the batch as the exporter got it: a JSON array (callback exporters with the
    default `format="json"`) or one JSON object per line (`format="jsonl"` and the built-in
    exporters). `ok` is False when the attempt failed: the same events will be offered again.
    """

    exporter_id: int
    event_count: int
    data: bytes = field(repr=False)
    ok: bool

    @cached_property
    def events(self) -> List[Any]:
        """The batch's events as dicts, parsed from `data` on first use."""
        if self.data.lstrip().startswith(b"["):
            events: List[Any] = json.loads(self.data)
            return events
        return [json.loads(line) for line in self.data.splitlines() if line.strip()]
