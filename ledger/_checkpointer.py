"""Quorum before publication (SPEC.md "Publication"): sign a checkpoint, have the
witnesses cosign it over C2SP tlog-witness ``POST /add-checkpoint``, store it only when
the genesis quorum has.

A log that could publish a tree no witness has seen could show one history to the public
and another to an auditor. So the checkpointer sends every new checkpoint to all the
witnesses in the operator's ``witnesses.json`` at once, and stores (publishes) the note
with their cosignatures only when enough of the genesis's witnesses cosigned. A witness
that is down or refuses is retried with backoff, a bounded number of times; what each
witness last cosigned and its last error are kept for the status endpoint and the CLI.
With the quorum out of reach entries are still accepted: only publication waits.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger._app import Ledger
from ledger._errors import InputError
from verifier import (
    Checkpoint,
    FormatError,
    NoteSigner,
    NoteVerifier,
    Trust,
    VerifierError,
    parse_note,
    verify_cosignatures,
)
from verifier._note import COSIGNATURE_TYPE

__all__ = ["Checkpointer", "Outcome", "WitnessEndpoint", "load_witnesses"]

_SHANGHAI = timezone(timedelta(hours=8))
MAX_BODY = 16 * 1024  # a reply of cosignature lines is a few hundred bytes


@dataclass(frozen=True)
class WitnessEndpoint:
    """One witness the log asks: its cosignature key (one of the genesis's) and URL."""

    key: NoteVerifier
    url: str


def load_witnesses(path: Path, trust: Trust) -> list[WitnessEndpoint]:
    """Parse ``witnesses.json`` (``[{"vkey": ..., "url": "http://host:port"}]``); every
    key must be a witness the genesis names, once. InputError names the item and field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: 无法读取见证人列表 / cannot read the witness list: {exc}"
                         ) from None
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: 应为非空 JSON 数组 / expected a non-empty JSON list of "
                         '{"vkey": ..., "url": ...}')
    pinned = {w.vkey: w for w in trust.witnesses}
    out: list[WitnessEndpoint] = []
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or set(item) != {"vkey", "url"}:
            raise InputError(f"{where}: 应恰有 vkey 和 url 两个字段 / expected exactly the "
                             "fields vkey and url")
        vkey, url = item["vkey"], item["url"]
        if not isinstance(vkey, str) or vkey not in pinned:
            raise InputError(f"{where}.vkey: 不是创世声明中的见证人密钥 / not a witness key "
                             "the genesis names")
        if pinned[vkey].sigtype != COSIGNATURE_TYPE:
            raise InputError(f"{where}.vkey: not a cosignature (type 0x04) key")
        if any(e.key.vkey == vkey for e in out):
            raise InputError(f"{where}.vkey: 该见证人重复列出 / this witness is listed twice")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(f"{where}.url: 应为 http:// 或 https:// 地址 / expected an "
                             "http:// or https:// URL")
        out.append(WitnessEndpoint(pinned[vkey], url.rstrip("/")))
    return out


@dataclass
class WitnessState:
    """What the log knows of one witness (shown by the status)."""

    endpoint: WitnessEndpoint
    size: int | None = None  # the size it last cosigned (or told us in a 409)
    cosigned_at: str | None = None
    error: str | None = None
    error_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.endpoint.key.name, "url": self.endpoint.url,
                "cosigned_size": self.size, "cosigned_at": self.cosigned_at,
                "last_error": self.error, "last_error_at": self.error_at}


@dataclass
class Outcome:
    """One publication round: the size signed, the cosignatures gathered, and whether
    the quorum was met (then the note is stored and published)."""

    size: int
    published: bool
    cosigners: list[str] = field(default_factory=list)
    quorum: int = 0


class _Refused(Exception):
    """One add-checkpoint attempt failed (the message is for the status)."""


class Checkpointer:
    """Publishes checkpoints of ``ledger`` through the witnesses of ``endpoints``."""

    def __init__(self, ledger: Ledger, log_signer: NoteSigner,
                 endpoints: list[WitnessEndpoint], *, timeout: float = 5.0,
                 attempts: int = 4, backoff: float = 0.2,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ledger, self.log_signer, self.clock = ledger, log_signer, clock
        self.timeout, self.attempts, self.backoff = timeout, attempts, backoff
        self.witnesses = [WitnessState(e) for e in endpoints]
        self.last: Outcome | None = None
        self._round = threading.Lock()  # one round at a time (the CLI, the API's thread)

    # -- one round ----------------------------------------------------------------------
    def publish(self) -> Outcome | None:
        """Sign a checkpoint of the whole log, gather cosignatures concurrently, store it
        when the quorum cosigned. None when the latest published checkpoint already
        covers every entry. A stored checkpoint that lacks the quorum (the log key alone
        signed it) is sent again, and the cosignatures are added to it."""
        with self._round:
            trust = self.ledger.trust()
            size = self.ledger.refresh()
            published = self.ledger.published_checkpoint()
            if published is not None and published[0] >= size:
                return None
            stored = self.ledger.chain.latest_checkpoint()
            if stored is not None and stored[0] >= size:
                cp, note, fresh = Checkpoint(trust.origin, stored[0], stored[1]), stored[2], False
            else:
                signed = self.ledger.sign_checkpoint(self.log_signer)
                if signed is None:  # another process stored one since we looked
                    return None
                (cp, note), fresh = signed, True
            with ThreadPoolExecutor(max_workers=max(1, len(self.witnesses))) as pool:
                lines = list(pool.map(lambda w: self._cosign(w, cp, note), self.witnesses))
            good = [(w.endpoint.key.name, line) for w, line in zip(self.witnesses, lines,
                                                                     strict=True) if line]
            outcome = Outcome(cp.size, len(good) >= trust.quorum, [n for n, _ in good],
                              trust.quorum)
            if outcome.published:
                if fresh:
                    body = note + "".join(line + "\n" for _, line in good)
                    self.ledger.store_checkpoint(cp, body)
                else:
                    for _, line in good:
                        if line not in note:
                            self.ledger.chain.add_cosignature(cp.size, line + "\n")
            self.last = outcome
            return outcome

    def _cosign(self, witness: WitnessState, cp: Checkpoint, note: str) -> str | None:
        """The witness's verified cosignature line for ``note``, or None after the
        bounded retries (its error recorded)."""
        conflicts = 0
        for attempt in range(self.attempts):
            try:
                line = self._attempt(witness, cp, note)
            except _Conflict as exc:
                conflicts += 1
                witness.size = exc.size
                if exc.size > cp.size:
                    self._fail(witness, f"见证人已联署 {exc.size} 条，超过本日志的 {cp.size} "
                               f"条（分叉或回退？）/ the witness cosigned size {exc.size}, "
                               f"beyond this log's {cp.size} (a fork or a rollback?)")
                    return None
                if conflicts <= 2:
                    continue  # the size learnt, ask again at once
                self._fail(witness, f"409: size {exc.size} again")
            except _Refused as exc:
                self._fail(witness, str(exc))
            else:
                witness.size, witness.error = cp.size, None
                witness.cosigned_at = self._now()
                return line
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff * 2 ** attempt)
        return None

    def _attempt(self, witness: WitnessState, cp: Checkpoint, note: str) -> str:
        old = witness.size or 0
        if old > cp.size:
            raise _Conflict(old)
        proof = self.ledger.consistency_proof(old, cp.size) if old else []
        body = (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
                + "\n" + note).encode()
        request = urllib.request.Request(witness.endpoint.url + "/add-checkpoint", data=body,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                data = reply.read(MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            text = exc.read(MAX_BODY).decode("utf-8", "replace").strip()
            if exc.code == 409 and exc.headers.get("content-type", "").startswith(
                    "text/x.tlog.size") and text.isdigit():
                raise _Conflict(int(text)) from None
            raise _Refused(f"拒绝联署 / refused: HTTP {exc.code}: {text[:200]}") from None
        except (OSError, ValueError) as exc:  # refused, timed out, reset, bad URL
            raise _Refused(f"无法连接 / unreachable: {exc}") from None
        return self._line(witness, cp, note, data)

    @staticmethod
    def _line(witness: WitnessState, cp: Checkpoint, note: str, data: bytes) -> str:
        """The reply's cosignature line by this witness's key, verified over ``cp``."""
        if len(data) > MAX_BODY:
            raise _Refused("reply over 16 KiB")
        text = note.partition("\n\n")[0]
        try:
            for line in data.decode().splitlines():
                if not line:
                    continue
                names = verify_cosignatures(parse_note(f"{text}\n\n{line}\n"),
                                            [witness.endpoint.key])
                if names:
                    return line
        except (UnicodeDecodeError, VerifierError, FormatError) as exc:
            raise _Refused(f"联署无效 / bad cosignature in the reply: {exc}") from None
        raise _Refused(f"应答中没有本见证人的联署 / no cosignature by "
                       f"{witness.endpoint.key.name} in the reply (size {cp.size})")

    def _fail(self, witness: WitnessState, message: str) -> None:
        witness.error, witness.error_at = message, self._now()

    def _now(self) -> str:
        return self.clock().astimezone(_SHANGHAI).isoformat(timespec="seconds")

    # -- the status ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The log's size, the published size, the quorum and each witness's state, with
        a sentence (Chinese, then English) saying whether publication is held up."""
        return publication_status(self.ledger, self.witnesses, self.last)

    # -- in the background --------------------------------------------------------------
    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Publish every ``interval`` seconds until ``stop`` is set (the API's thread)."""
        while not stop.is_set():
            try:
                self.publish()
            except Exception as exc:  # the thread must outlive a bad round
                for w in self.witnesses:
                    if w.error is None:
                        self._fail(w, f"checkpointer: {exc}")
            stop.wait(interval)


class _Conflict(Exception):
    """A 409: the witness holds another size."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def publication_status(ledger: Ledger, witnesses: list[WitnessState] | None = None,
                       last: Outcome | None = None) -> dict[str, Any]:
    """What ``/v1/status`` and ``drawledger checkpoint --witnesses`` report: held up when
    the last round missed the quorum."""
    trust = ledger.trust()
    size = ledger.chain.head()[0]
    published = ledger.published_checkpoint()
    pub = published[0] if published else 0
    ok = [w for w in witnesses or [] if w.size is not None and w.size >= pub and not w.error]
    held = last is not None and not last.published and pub < size
    if not held and pub >= size:
        zh, en = "已发布最新检查点", "the latest checkpoint is published"
    elif not held:
        zh, en = ("新条目尚待下一轮检查点发布", "new entries wait for the next checkpoint round")
    else:
        down = [w.endpoint.key.name for w in witnesses or [] if w.error]
        zh = (f"见证人法定数（{trust.quorum}）未联署：新检查点暂不发布，日志照常接收条目；"
              f"出错的见证人：{', '.join(down) or '无'}")
        en = (f"the witness quorum ({trust.quorum}) has not cosigned: no new checkpoint is "
              f"published, entries are still accepted; witnesses in error: "
              f"{', '.join(down) or 'none'}")
    return {"entries": size, "published_size": pub, "quorum": trust.quorum,
            "held": held, "cosigning": len(ok),
            "message_zh": zh, "message_en": en,
            "witnesses": [w.to_json() for w in witnesses or []]}
