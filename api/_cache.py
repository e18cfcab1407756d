"""Responses that carry an ETag: a bounded LRU of built bodies and the 304 answer when
the client already holds one (shared by the API's reads and the portal's pages)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

__all__ = ["CACHE_ITEMS", "IMMUTABLE", "LRU", "REVALIDATE", "cached"]

CACHE_ITEMS = 256  # per cache: entry pages, proofs, bundles, portal pages
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # may be stored, but asked again (ETag) before each use


class LRU:
    """A small thread-safe LRU of immutable responses (bytes and their ETag)."""

    def __init__(self, size: int = CACHE_ITEMS) -> None:
        self._items: OrderedDict[object, tuple[bytes, str]] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def get(self, key: object, make: Callable[[], bytes]) -> tuple[bytes, str]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = make()  # outside the lock: a slow build holds up no other read
        item = (data, f'"{hashlib.sha256(data).hexdigest()[:32]}"')
        with self._lock:
            self._items[key] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return item


def cached(request: Request, item: tuple[bytes, str], media_type: str, immutable: bool,
           headers: dict[str, str] | None = None) -> Response:
    """``item`` with its ETag and Cache-Control, or 304 when the client holds it."""
    data, etag = item
    out = {"ETag": etag, "Cache-Control": IMMUTABLE if immutable else REVALIDATE,
           **(headers or {})}
    wanted = request.headers.get("if-none-match", "")
    if etag in (t.strip() for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=304, headers=out)
    return Response(data, media_type=media_type, headers=out)

