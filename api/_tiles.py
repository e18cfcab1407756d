"""C2SP tlog-tiles under the API root (SPEC.md section 19): ``GET /checkpoint``,
``/tile/<L>/<N>[.p/<W>]``, ``/tile/entries/<N>[.p/<W>]``, and the drawledger extension
``/checkpoints/index``, ``/checkpoints/<name>`` and ``/trust.json``.

The same bytes as ``drawledger tiles OUT_DIR``, so a client cannot tell (and need not
care) whether Python or nginx answers. Only the published tree is served. A full tile is
immutable and cached for a year; a partial tile, the checkpoint and the listing are
short-lived: a partial tile is superseded as the tree grows, the checkpoint changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api._problems import Problem
from ledger import Ledger
from ledger._tiles import checkpoint_notes, covered, entry_bundle, hash_tile, published
from verifier import FormatError
from verifier._tiles import CHECKPOINT_INDEX, TILE_WIDTH, check_note_name, parse_tile_path

__all__ = ["tiles_router"]

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=10"  # a partial tile: superseded once the tree grows
_OCTETS = "application/octet-stream"
_TEXT = "text/plain; charset=utf-8"


def tiles_router(reader: Callable[[], Ledger], read_lock: threading.Lock) -> APIRouter:
    """The tile routes over the reading ``Ledger`` (its tree under ``read_lock``)."""
    router = APIRouter(tags=["tiles"])

    def latest() -> tuple[int, bytes, str]:
        try:
            return published(reader())
        except ValueError:
            raise Problem("no-checkpoint", "日志尚无经见证人法定数联署发布的检查点",
                          "no checkpoint published (cosigned by the witness quorum) yet"
                          ) from None

    @router.get("/checkpoint")
    def checkpoint() -> Response:
        """The published checkpoint (tlog-tiles): the tree the tiles below serve."""
        return Response(latest()[2], media_type=_TEXT, headers={"Cache-Control": "no-cache"})

    @router.get("/tile/{path:path}")
    def tile(request: Request, path: str) -> Response:
        """A hash tile (256 hashes of level 8L) or an entry bundle, within the published
        tree; full ones immutable."""
        try:
            level, index, width = parse_tile_path(path)
        except FormatError as exc:
            raise Problem("not-found", f"没有这个瓦片：{exc}", f"no such tile: {exc}") from None
        size = latest()[0]
        if not covered(size, level, index, width):
            raise Problem("not-found", f"瓦片 tile/{path} 超出已发布的树（{size} 条）",
                          f"tile/{path} lies beyond the published tree ({size} entries)")
        if level is None:
            data = entry_bundle(reader(), index, width)
        else:
            with read_lock:
                data = hash_tile(reader(), size, level, index, width)
        return Response(data, media_type=_OCTETS, headers={
            "Cache-Control": IMMUTABLE if width == TILE_WIDTH else SHORT})

    @router.get("/" + CHECKPOINT_INDEX)
    def checkpoint_index() -> Response:
        """The checkpoint notes up to the published tree, one file name a line."""
        names = [name for name, _ in checkpoint_notes(reader(), latest()[0])]
        return Response("".join(n + "\n" for n in names), media_type=_TEXT,
                        headers={"Cache-Control": "no-cache"})

    @router.get("/checkpoints/{name}")
    def checkpoint_note(name: str) -> Response:
        """One checkpoint note, named as in an export."""
        try:
            check_note_name(name)
        except FormatError as exc:
            raise Problem("not-found", f"没有这个检查点：{exc}", f"no such note: {exc}") from None
        notes = dict(checkpoint_notes(reader(), latest()[0]))
        if name not in notes:
            raise Problem("not-found", f"没有检查点 {name}", f"no checkpoint note {name}")
        return Response(notes[name], media_type=_TEXT, headers={"Cache-Control": IMMUTABLE})

    @router.get("/trust.json")
    def trust() -> Response:
        """The trust policy the genesis declares (an auditor pins its own copy)."""
        return Response(reader().trust().canonical_bytes(), media_type="application/json",
                        headers={"Cache-Control": "no-cache"})

    return router
