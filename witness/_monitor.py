"""``python -m witness monitor``: follow a tile log, audit what it adds, catch split views.

A witness refuses a fork it is shown; a monitor looks for the fork nobody showed it. Each
round it reads the log's published ``checkpoint``, checks the log signature and the
witness quorum, re-derives the tree from the entry bundles (every hash tile is compared
on the way, ``TileReplay``), audits the entries, and checks that the new tree extends the
one it verified last. Notes seen elsewhere (``--peer``: another mirror, a witness's latest
cosigned checkpoint) are checked against the same verified tree. Two trees that cannot
both be true are written as fork evidence (SPEC.md 7.7) that ``python -m verifier fork``
judges with the pinned log key alone.

The audit is incremental (SPEC.md 9.4): the audit state saved in the state folder at the
last verified checkpoint, resumed with only the bundles from the one holding its size on
(the older leaf hashes are in ``leaves.bin``); a state off the verified tree, or a resumed
tree that misses the signed root, falls back to a full replay, so a fork stays a fork.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from verifier import MerkleTree, Trust, VerifierError, entry_hash, parse_note, verify_note
from verifier._atomic import write_atomic
from verifier._audit import Oversize, Report, audit
from verifier._errors import FormatError
from verifier._fork import fork_evidence
from verifier._note import Checkpoint, parse_checkpoint, verify_cosignatures
from verifier._resume import AuditState, StateError, load_state, save_state
from verifier._state import Finding
from verifier._tiles import MAX_SMALL_FILE, TILE_WIDTH, TileReplay, TileSource, tile_checkpoints
from witness._errors import WitnessError

__all__ = ["Monitor", "Round"]

FETCH_TIMEOUT = 10


@dataclass
class Round:
    """What one round found: problems (Chinese, English), fork evidence written, and the
    audit's findings over the whole tree taken this round."""

    size: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    forks: list[Path] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """2 a fork, 1 another problem, 0 nothing wrong."""
        return 2 if self.forks else 1 if self.problems else 0


def _fetch_note(location: str) -> bytes:
    """A peer's note from an http(s) URL or a file; OSError when it cannot be read."""
    if location.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(location, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(MAX_SMALL_FILE + 1)
        except urllib.error.HTTPError as exc:
            raise OSError(f"HTTP {exc.code}") from None
    else:
        with open(location, "rb") as fh:
            data = fh.read(MAX_SMALL_FILE + 1)
    if len(data) > MAX_SMALL_FILE:
        raise OSError(f"over {MAX_SMALL_FILE} bytes")
    return data


class Monitor:
    """One log (``source``, pinned by ``trust``) followed from ``state_dir``."""

    def __init__(self, source: TileSource, trust: Trust, state_dir: Path,
                 peers: list[str] | None = None) -> None:
        self.source, self.trust, self.dir = source, trust, state_dir
        self.peers = list(peers or [])
        self.dir.mkdir(parents=True, exist_ok=True)
        self._state_file = self.dir / "state.json"
        self._leaves_file = self.dir / "leaves.bin"
        self._audit_file = self.dir / "audit.state"
        self._audit_state: AuditState | None = None  # to save with the round's state
        self.size, self.note, self.pending = 0, "", list[str]()
        self.tree = MerkleTree()
        self._load()

    # -- state --------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._state_file.exists():
            return
        try:
            obj = json.loads(self._state_file.read_text(encoding="utf-8"))
            size, note, pending = int(obj["size"]), str(obj["note"]), list(obj["pending"])
            if obj["origin"] != self.trust.origin:
                raise WitnessError(f"{self._state_file}: 状态属于另一日志 / the state is of "
                                   f"another log ({obj['origin']!r})")
            raw = self._leaves_file.read_bytes() if size else b""
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WitnessError(f"{self._state_file}: 状态不可读 / unreadable state: {exc}"
                               ) from None
        if len(raw) < 32 * size:
            raise WitnessError(f"{self._leaves_file}: 少于 {size} 个叶哈希 / fewer than "
                               f"{size} leaf hashes")
        tree = MerkleTree(raw[i:i + 32] for i in range(0, 32 * size, 32))
        if size and tree.root() != parse_checkpoint(parse_note(note).text).root:
            raise WitnessError(f"{self._state_file}: 叶哈希与已核验检查点不符 / the leaf "
                               "hashes do not give the verified checkpoint's root")
        self.size, self.note, self.pending, self.tree = size, note, pending, tree

    def _save(self) -> None:
        if self.size:
            write_atomic(self._leaves_file, b"".join(self.tree.leaf(i)
                                                     for i in range(self.size)))
        state = {"origin": self.trust.origin, "size": self.size, "note": self.note,
                 "pending": self.pending}
        write_atomic(self._state_file, (json.dumps(state, ensure_ascii=False, indent=1)
                                        + "\n").encode())
        if self._audit_state is not None:
            # After the tree it lies on: a crash between leaves a state past the verified
            # tree, which the next round does not trust (a full audit).
            save_state(self._audit_file, self._audit_state)
            self._audit_state = None

    # -- checks -------------------------------------------------------------------------
    def _signed(self, data: bytes, where: str, out: Round) -> tuple[str, Checkpoint] | None:
        """The note's text and checkpoint when the pinned log key signed it for the
        pinned origin; otherwise a problem and None."""
        try:
            text = data.decode("utf-8")
            note = parse_note(text)
            verify_note(note, [self.trust.log_key])
            cp = parse_checkpoint(note.text)
        except (UnicodeDecodeError, VerifierError) as exc:
            out.problems.append((f"{where}：不是固定日志密钥签署的检查点（{exc}）",
                                 f"{where}: not a checkpoint signed by the pinned log key "
                                 f"({exc})"))
            return None
        if cp.origin != self.trust.origin:
            out.problems.append((f"{where}：来源 {cp.origin} 不是 {self.trust.origin}",
                                 f"{where}: origin {cp.origin!r} is not {self.trust.origin!r}"))
            return None
        return text, cp

    def _fork(self, out: Round, note_a: str, note_b: str, tree: MerkleTree | None = None,
              small: int = 0) -> None:
        """Write the evidence of two conflicting notes (``tree``: the larger one's leaves,
        for the proof from ``small``)."""
        proof = prefix = None
        if tree is not None:
            proof, prefix = tree.consistency_proof(small, tree.size), tree.root(small)
        data = fork_evidence(note_a, note_b, proof, prefix)
        sizes = sorted(parse_checkpoint(parse_note(n).text).size for n in (note_a, note_b))
        folder = self.dir / "evidence"
        folder.mkdir(exist_ok=True)
        path = folder / f"fork-{sizes[0]}-{sizes[1]}-{hashlib.sha256(data).hexdigest()[:16]}.json"
        if not path.exists():
            write_atomic(path, data)
        out.forks.append(path)

    def _against_verified(self, out: Round, text: str, cp: Checkpoint) -> bool:
        """Compare a note no larger than the verified tree with it; False when it is
        larger (it can only be judged once the tree reaches it)."""
        if cp.size > self.size:
            return False
        if self.tree.root(cp.size) != cp.root:
            if cp.size == self.size:
                self._fork(out, self.note, text)
            else:
                self._fork(out, text, self.note, self.tree, cp.size)
        return True

    def _resume_point(self, out: Round) -> AuditState | None:
        """The saved audit state when it lies on the verified tree (its size within it,
        its root that tree's root there); anything else is not trusted: a full audit."""
        if not self._audit_file.exists():
            return None
        try:
            state = load_state(self._audit_file)
        except StateError as exc:
            out.notes.append((f"审计状态不可用，完整重审：{exc.zh}",
                              f"the audit state is unusable, a full re-audit: {exc.en}"))
            return None
        if state.origin != self.trust.origin or not 0 < state.size <= self.size \
                or self.tree.root(state.size) != state.root:
            out.notes.append(("审计状态不在已核验的树上，完整重审",
                              "the audit state is not on the verified tree: a full re-audit"))
            return None
        return state

    def _replay(self, cp: Checkpoint, resume: AuditState | None
                ) -> tuple[MerkleTree, Report, list[Finding]]:
        """The tree and audit up to ``cp``: all from the tiles, or (``resume``) the known
        leaves up to the bundle holding the state's size, then the bundles from it on,
        the audit fed only the entries after the state's."""
        start = resume.size - resume.size % TILE_WIDTH if resume is not None else 0
        skip = resume.size - start if resume is not None else 0
        before = [self.tree.leaf(i) for i in range(start)]
        replay = TileReplay(self.source, cp.size, before=before)
        leaves = list(before)

        def lines() -> Iterator[bytes | Oversize]:
            for i, line in enumerate(replay.lines()):
                if not isinstance(line, Oversize):
                    leaves.append(entry_hash(line[:-1]))
                if i >= skip:
                    yield line

        _, notes, found = tile_checkpoints(self.source)
        report = audit(lines(), notes, self.trust, workers=0, resume=resume, save=True,
                       expect=cp.size)
        return MerkleTree(leaves), report, [*found, *replay.finish(), *report.findings]

    def _advance(self, out: Round, text: str, cp: Checkpoint) -> None:
        """Replay the tiles up to ``cp``, audit them, and take the new tree when it gives
        the signed root and extends the verified one. Incremental from the saved audit
        state when there is one; when that does not give the signed root (or the audit
        refuses the state), a full replay decides, so a fork is still shown as one."""
        resume = self._resume_point(out)
        result = None
        if resume is not None:
            try:
                result = self._replay(cp, resume)
            except (OSError, VerifierError):
                result = None
            if result is not None and (result[0].size != cp.size
                                       or result[0].root() != cp.root):
                result = None
            if result is None:
                out.notes.append(("增量审计未得出检查点的根，完整重审",
                                  "the incremental audit does not give the checkpoint's "
                                  "root: a full re-audit"))
                resume = None
        if result is None:
            try:
                result = self._replay(cp, None)
            except (OSError, VerifierError) as exc:
                out.problems.append((f"无法读取瓦片：{exc}", f"cannot read the tiles: {exc}"))
                return
        tree, report, findings = result
        if tree.size != cp.size or tree.root() != cp.root:
            out.problems.append((f"瓦片中的条目不能得出规模 {cp.size} 检查点的根，未采信",
                                 f"the tiles' entries do not give the root of the size-"
                                 f"{cp.size} checkpoint: not taken"))
            return
        if self.size and tree.root(self.size) != self.tree.root():
            self._fork(out, self.note, text, tree, self.size)
            return
        self.size, self.note, self.tree = cp.size, text, tree
        self._audit_state, out.findings = report.state, findings
        how = (f"增量审计，自第 {resume.size} 条起", f"an incremental audit from entry "
               f"{resume.size}") if resume is not None else ("完整审计", "a full audit")
        out.notes.append((f"已核验至规模 {cp.size}（{how[0]}）",
                          f"verified up to size {cp.size} ({how[1]})"))
        if findings or report.exit_code:
            out.problems.append((f"审计发现 {len(findings)} 项问题（退出码 {report.exit_code}）："
                                 + "；".join(f.zh for f in findings[:5]),
                                 f"the audit found {len(findings)} problems (exit "
                                 f"{report.exit_code}): "
                                 + "; ".join(f.en for f in findings[:5])))

    def round(self) -> Round:
        """One pass: the log's checkpoint, then the peers' and the pending notes."""
        out = Round()
        try:
            head = self.source.get("checkpoint", MAX_SMALL_FILE)
        except (OSError, FormatError) as exc:
            head = None
            out.problems.append((f"无法读取 checkpoint：{exc}", f"cannot read checkpoint: {exc}"))
        signed = self._signed(head, "checkpoint", out) if head is not None else None
        if head is None and not out.problems:
            out.problems.append(("日志未发布 checkpoint", "the log serves no checkpoint"))
        if signed is not None:
            text, cp = signed
            try:
                cosigned = verify_cosignatures(parse_note(text), list(self.trust.witnesses))
            except VerifierError as exc:
                cosigned = {}
                out.problems.append((f"checkpoint 的见证联署无效：{exc}",
                                     f"checkpoint carries a bad cosignature: {exc}"))
            if len(cosigned) < self.trust.quorum:
                out.problems.append((f"checkpoint 仅有 {len(cosigned)} 个见证联署，法定数为 "
                                     f"{self.trust.quorum}",
                                     f"checkpoint has {len(cosigned)} witness cosignatures, "
                                     f"the quorum is {self.trust.quorum}"))
            if not self._against_verified(out, text, cp):
                self._advance(out, text, cp)
            elif cp.size < self.size and not out.forks:
                out.problems.append((f"日志发布的检查点（{cp.size}）早于已核验的（{self.size}）",
                                     f"the log serves a checkpoint ({cp.size}) older than the "
                                     f"one verified ({self.size})"))
        pending: list[str] = []
        for where, data in [*((p, None) for p in self.peers),
                            *(("pending", n.encode()) for n in self.pending)]:
            if data is None:
                try:
                    data = _fetch_note(where)
                except OSError as exc:
                    out.problems.append((f"无法读取对端 {where}：{exc}",
                                         f"cannot read peer {where}: {exc}"))
                    continue
            peer = self._signed(data, where, out)
            if peer is not None and not self._against_verified(out, *peer) \
                    and peer[0] not in pending:
                pending.append(peer[0])
        self.pending = pending
        self._save()
        out.size = self.size
        return out
