"""Shards: split one ingest into N disjoint parts that separate runs (workers, machines) take.

An input's shard is decided by a stable hash of a key that names it the same way on every
machine: a file's path *relative to the input root it was found under* (so clones or mounts
at different places agree), a feed's registry URL. SHA-256, not Python's ``hash()`` (which
is salted per process). Every key belongs to exactly one shard ``i`` of ``0 … N-1``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based); ``Shard()`` is the whole input."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"shards must be at least 1 (got {self.count})")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard must be between 0 and {self.count - 1} (got {self.index})")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def owns(self, key: str) -> bool:
        """Whether the input named ``key`` belongs to this shard."""
        return self.whole or shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (0-based, e.g. ``0/4`` … ``3/4``)."""
        index, sep, count = text.strip().partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError as exc:
            detail = f": {exc}" if str(exc) else ""
            raise ValueError(f"a shard is I/N with 0 <= I < N, e.g. 0/2 (got {text!r}){detail}") from None


def shard_of(key: str, count: int) -> int:
    """The shard (0 … count-1) of ``key``: the first 8 bytes of its SHA-256, modulo count."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count


WHOLE = Shard()  # every input: the default of every source
