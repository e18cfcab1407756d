"""Draw-proof bundles built once (issue 17 item 6): ``bundle_bytes``.

``make_bundle`` replays the log up to the commitment to rebuild the draw's lists and reads
the whole log for the entries the bundle proves: minutes on a million-entry year, and the
API did it again for every new checkpoint and after every restart. A bundle is the
canonical bytes of its JSON, so it is kept under the SHA-256 of those bytes in
``<db>.state.bundles/`` (beside the replay state for PostgreSQL, ``$DRAWLEDGER_STATE``), with a
small index per draw: the published checkpoints it was built under (size and note hash)
and the log size up to which it is known to be current.

A newer checkpoint changes the bundle only if an entry it would prove came since: one of
the draw's own stream, of its plan's stream, or a conflict declaration or withdrawal
(the bundle keeps the later conflicts of its roster). So only the entries after the
index's size are read, and if none is of those kinds the cached bytes are served as they
are (``make_bundle`` would give the same); otherwise, or if a checkpoint it was built
under changed (a cosignature added to its note), it is built again. A file whose bytes do
not hash to its name is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ledger._app import Ledger, own_entry
from ledger._bundle import make_bundle
from ledger._draws import draw_stream
from ledger._poolcache import cache_dir
from verifier import canonical
from verifier._atomic import write_atomic

__all__ = ["bundle_bytes", "cache_dir"]

_PAGE = 10_000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _under(checkpoints: list[tuple[int, bytes, str]]) -> list[list[Any]]:
    return [[size, _sha(note.encode())] for size, _, note in checkpoints]


def _touches(ledger: Ledger, start: int, stop: int, streams: tuple[str, str]) -> bool:
    """Whether an entry in ``start..stop-1`` is one a bundle of these streams could prove."""
    for page in range(start, stop, _PAGE):
        for _, raw in ledger.chain.read_entries(page, min(stop, page + _PAGE)):
            e = own_entry(raw)
            if e.stream in streams or e.type.startswith("conflict."):
                return True
    return False


def bundle_bytes(ledger: Ledger, draw_id: str) -> bytes:
    """The canonical bytes of ``make_bundle(ledger, draw_id)``, from the cache when they
    are still what it would give (InputError as it raises)."""
    folder = cache_dir(ledger)
    if folder is None:
        return canonical(make_bundle(ledger, draw_id))
    published = ledger.published_checkpoints()
    index_path = folder / f"{_sha(draw_id.encode())}.json"
    plan_id, _, batch_id = draw_id.rpartition("/")
    streams = (draw_stream(plan_id, batch_id), f"plan/{plan_id}")
    try:
        index = json.loads(index_path.read_bytes())
        data = (folder / f"{index['bundle']}.json").read_bytes()
        current = (index["draw"] == draw_id and _sha(data) == index["bundle"]
                   and published and _under(published)[:len(index["under"])] == index["under"])
    except (OSError, ValueError, KeyError, TypeError):
        current = False
    if current and published:
        size = published[-1][0]
        if size <= index["size"] or not _touches(ledger, index["size"], size, streams):
            if size > index["size"]:
                index["size"], index["under"] = size, _under(published)
                write_atomic(index_path, canonical(index))
            return data
    data = canonical(make_bundle(ledger, draw_id))
    folder.mkdir(parents=True, exist_ok=True)
    name = _sha(data)
    write_atomic(folder / f"{name}.json", data)
    write_atomic(index_path, canonical({"draw": draw_id, "bundle": name,
                                        "size": published[-1][0], "under": _under(published)}))
    return data
