"""Checking a draw-proof bundle offline (SPEC.md section 15).

A bundle is canonical JSON, so any changed byte either breaks the canonical form or
changes a value that something authenticates: entries by their inclusion proofs to
checkpoints signed with the log key, checkpoints by consistency proofs, the trust policy
by the genesis entry, the snapshot lists by the roots in the signed commitment. What is
left is the draw itself, which the same ``DrawAuditor`` as the full audit recomputes byte
for byte from the committed lists and the randomness evidence.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from verifier._audit import Report
from verifier._canonical import bounded_int, loads_canonical
from verifier._cosigntime import COSIGNATURE_SKEW, Cosigned, implausible
from verifier._draw import (
    TARGET_FIELDS,
    Candidate,
    Member,
    Snapshot,
    matches,
    pool_rule,
    stratum_of,
    target_score,
)
from verifier._drawaudit import DrawAuditor, draw_time
from verifier._entry import Entry, parse_entry
from verifier._errors import FormatError, VerifierError
from verifier._merkle import MerkleTree, leaf_hash, verify_consistency
from verifier._note import NoteVerifier, parse_note
from verifier._proof import parse_proof, verify_proof
from verifier._sealed import SPEC_V2, Opening, SealError, log_spec, parse_opening, unseal
from verifier._state import INTEGRITY, UNVERIFIABLE, VIOLATION, Finding, LogState
from verifier._trust import Trust, chain_to_json, parse_trust

__all__ = ["FORMAT", "FORMAT_V2", "BundleView", "entity_report", "not_a_bundle", "verify_bundle"]

FORMAT = "drawledger/draw-bundle/v1"
# The auditor bundle of a v2 log (SPEC.md 21.7): v1's members and the openings.
FORMAT_V2 = "drawledger/draw-bundle/v2"
_FIELDS = {"format", "draw", "trust", "entries", "consistency", "snapshot"}
_LISTS = ("pool", "roster", "conflicts", "excluded")
_ENTRY_ITEM = frozenset({"entry", "proof"})
_CONSISTENCY_ITEM = frozenset({"old", "new", "proof"})
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass
class BundleView:
    """What a checked bundle establishes, for the report and the per-entity check."""

    draw: str = ""
    trust_source: str = ""
    commit: Entry | None = None
    execution: Entry | None = None
    snapshot: Snapshot | None = None
    leaves: dict[str, list[bytes]] = field(default_factory=dict)
    commit_time: str = ""
    commit_witnessed: int | None = None  # earliest quorum cosignature covering the commit
    round_time: int | None = None
    evidence: str = "claimed"
    openings: dict[int, Opening] | None = None  # an auditor bundle's (SPEC.md 21.7)

    def to_json(self) -> dict[str, Any]:
        outcome = self.execution.body.get("outcome", {}) if self.execution else {}
        return {"draw": self.draw, "trust_source": self.trust_source,
                "commit_seq": self.commit.seq if self.commit else None,
                "commit_time": self.commit_time, "commit_witnessed": self.commit_witnessed,
                "round_time": self.round_time, "evidence": self.evidence,
                "selected": len(outcome.get("selected", [])),
                "unfillable": len(outcome.get("unfillable", []))}


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise FormatError(f"{value!r} is not a tree size")
    return value


def _items(value: Any, members: frozenset[str], where: str) -> list[dict[str, Any]]:
    """A list of objects with exactly ``members`` each (SPEC.md 15.1): an extra member
    would be bytes in the bundle that no check accounts for."""
    if type(value) is not list:
        raise FormatError(f"{where}: not a list")
    for i, item in enumerate(value):
        if type(item) is not dict or item.keys() != members:
            raise FormatError(f"{where}[{i}]: needs exactly the members {sorted(members)}")
    return value


def _hash(value: Any) -> bytes:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise FormatError(f"{value!r} is not 64 lowercase hex digits")
    return bytes.fromhex(value)


def _entry_order(entries: list[tuple[Entry, Any]], draw: str) -> None:
    """Entries strictly by seq; every draw entry on the bundle's draw stream, its
    versions from 1 without a gap (an entry left out in the middle shows)."""
    seqs = [e.seq for e, _ in entries]
    if seqs != sorted(set(seqs)):
        raise FormatError("entries: not in strictly increasing seq order")
    versions = [e.version for e, _ in entries if e.type.startswith("draw.")]
    if any(e.stream != f"draw/{draw}" for e, _ in entries if e.type.startswith("draw.")):
        raise FormatError(f"entries: a draw entry is not of draw {draw}")
    if versions != list(range(1, len(versions) + 1)):
        raise FormatError("entries: the draw's stream versions are not 1, 2, ... without gaps")


_LEAF_DECODE = json.JSONDecoder().decode


def _bad(rule: str, seq: int | None, zh: str, en: str) -> Finding:
    return Finding(rule, INTEGRITY, seq, zh, en)


def _openings(value: Any) -> dict[int, Opening]:
    """The auditor bundle's ``openings``: [{fields, salt, seq}] in increasing seq."""
    out: dict[int, Opening] = {}
    for item in _items(value, frozenset({"fields", "salt", "seq"}), "openings"):
        seq = _int(item["seq"])
        if out and seq <= max(out):
            raise FormatError("openings: not in increasing seq")
        try:
            out[seq] = parse_opening(item)
        except SealError as exc:
            raise FormatError(f"openings[seq {seq}]: {exc.en}") from None
    return out


def _member(obj: Any) -> Member:
    return Member(str(obj["uscc"]), str(obj["stratum"]), tuple(str(obj[f])
                                                                for f in TARGET_FIELDS))


def _candidate(obj: Any) -> Candidate:
    return Candidate(str(obj["cert_no"]), str(obj["dept"]), str(obj["unit"]),
                     obj["qualified"] is True, str(obj["valid_from"]), str(obj["valid_to"]),
                     obj["expert"] is True)


def _snapshot(lists: Any, report: Report, view: BundleView) -> None:
    """Parse the four lists; each leaf must be exactly the spec's leaf for its parsed
    value, byte for byte. That comparison (below) also proves each leaf canonical (the
    spec's leaves are ``dumps`` output), so a leaf is parsed with the plain decoder and
    not checked for canonical form twice: a third of a large bundle's check."""
    if not isinstance(lists, dict) or set(lists) != set(_LISTS):
        raise FormatError(f"snapshot: needs exactly {list(_LISTS)}")
    parsed: dict[str, list[Any]] = {}
    for name in _LISTS:
        items = lists[name]
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise FormatError(f"snapshot.{name}: not a list of strings")
        view.leaves[name] = [x.encode() for x in items]
        try:
            parsed[name] = [_LEAF_DECODE(x) for x in items]
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"snapshot.{name}: a leaf is not JSON ({exc})") from None
        if not all(type(o) is dict for o in parsed[name]):
            raise FormatError(f"snapshot.{name}: a leaf is not a JSON object")
    try:
        pool = [_member(o) for o in parsed["pool"]]
        roster = [_candidate(o) for o in parsed["roster"]]
        conflicts = {(str(o["cert_no"]), str(o["uscc"])): str(o["kind"])
                     for o in parsed["conflicts"]}
        excluded = [str(o["uscc"]) for o in parsed["excluded"]]
    except (KeyError, TypeError) as exc:
        raise FormatError(f"snapshot: a leaf lacks a field ({exc})") from None
    snapshot = Snapshot(list(pool), list(roster), conflicts, list(excluded))
    try:
        leaves = snapshot.leaves()
    except UnicodeEncodeError:  # "\ud800" escaped inside a leaf decodes to no text
        raise FormatError("snapshot: a leaf holds a string that is not Unicode text "
                          "(a lone surrogate)") from None
    if leaves != view.leaves:
        report.add(_bad("BUNDLE.snapshot", None, "快照清单的条目格式或顺序不合规范",
                        "a snapshot list's leaves are not in the specified form or order"))
    view.snapshot = snapshot


def _loose_json(data: bytes) -> Any:
    """Any JSON (floats too: a report has them), bounded like the canonical parser's
    integers; ValueError for anything else."""
    try:
        return json.loads(data.decode(), parse_int=bounded_int)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def not_a_bundle(data: bytes) -> tuple[str, str] | None:
    """What a file that is no draw-proof bundle looks like instead, or None when it names
    the bundle format anywhere: then any failure is tampering (``BUNDLE.format``), since
    every byte of a bundle is authenticated, while a file of another kind handed to the
    checker is a usage error (SPEC.md 15.2)."""
    if FORMAT.encode() in data or FORMAT_V2.encode() in data:
        return None
    if not data.strip():
        return "空文件", "an empty file"
    if data.startswith(b"c2sp.org/tlog-proof@v1\n"):
        return "单条目证明（tlog-proof）", "a per-entry proof (tlog-proof)"
    if data.startswith(b"PK\x03\x04"):
        return "压缩包或电子表格", "a zip archive or a spreadsheet"
    if b"\n\n\xe2\x80\x94 " in data[:1 << 16]:
        return "签名注记（检查点？）", "a signed note (a checkpoint?)"
    try:
        obj = _loose_json(data)
    except ValueError:
        try:
            obj = _loose_json(data.split(b"\n", 1)[0])
        except ValueError:
            return "不是 JSON", "not JSON"
        if isinstance(obj, dict) and {"seq", "prev", "sig"} <= set(obj):
            return "条目文件（entries.jsonl）", "an entries file (entries.jsonl)"
        return "不是 JSON（或多行 JSON）", "not JSON (or JSON lines)"
    if not isinstance(obj, dict):
        return "不是 JSON 对象", "JSON that is not an object"
    if {"log_key", "authority_keys"} <= set(obj):
        return "信任策略（trust.json）", "a trust policy (trust.json)"
    if {"exit_code", "findings"} <= set(obj):
        return "验证报告（--json 的输出）", "a verifier report (--json output)"
    if {"seq", "prev", "sig"} <= set(obj):
        return "单个条目", "a single entry"
    if isinstance(obj.get("format"), str):
        fmt = obj["format"][:80]
        return f"另一种格式的 JSON（{fmt}）", f"JSON of another format ({fmt})"
    members = ", ".join(sorted(obj)[:6])
    return f"另一种 JSON（成员：{members}）", f"JSON of another kind (members: {members})"


def verify_bundle(data: bytes, trust: Trust | None = None, *, background: bool = False
                  ) -> tuple[Report, BundleView]:
    """Check a bundle; ``trust`` pins the keys (else the bundle's own, which the report
    says). Never raises on bad data: problems are findings. ``background`` hashes the
    lists in a forked child while the draw is recomputed (see ``start_summary``)."""
    report = Report()
    view = BundleView()
    try:
        obj = loads_canonical(data)
        v2 = isinstance(obj, dict) and obj.get("format") == FORMAT_V2
        fields = _FIELDS | {"openings"} if v2 else _FIELDS
        if not isinstance(obj, dict) or set(obj) != fields or obj["format"] not in (FORMAT,
                                                                                 FORMAT_V2):
            raise FormatError(f"not a {FORMAT} object with exactly {sorted(_FIELDS)} (or "
                              f"{FORMAT_V2} with openings too)")
        if v2:
            view.openings = _openings(obj["openings"])
        embedded = parse_trust(obj["trust"])
        view.draw = str(obj["draw"])
        _snapshot(obj["snapshot"], report, view)
        entries = [(parse_entry(str(e["entry"]).encode()), parse_proof(str(e["proof"])))
                   for e in _items(obj["entries"], _ENTRY_ITEM, "entries")]
        consistency = [(_int(c["old"]), _int(c["new"]), [_hash(h) for h in c["proof"]])
                       for c in _items(obj["consistency"], _CONSISTENCY_ITEM, "consistency")]
        _entry_order(entries, view.draw)
    except (VerifierError, KeyError, TypeError, ValueError) as exc:
        report.add(_bad("BUNDLE.format", None, f"证明包格式错误：{exc}",
                        f"the bundle is malformed: {exc}"))
        return report, view
    pinned = trust or embedded
    view.trust_source = "pinned" if trust else "bundle (compare its keys with the published ones)"
    if trust is None:
        report.add(Finding("TRUST", UNVERIFIABLE, None,
                           "未提供信任策略：使用证明包自带的密钥，结论取决于这些密钥是否属实",
                           "no trust policy given: the bundle's own keys were used"))
    report.entries = len(entries)
    roots = _proofs(entries, consistency, pinned, report)
    if roots is None:
        return report, view
    _check(entries, embedded, pinned, trust is not None, report, view, roots, background)
    return report, view


def _proofs(entries: list[tuple[Entry, Any]], consistency: list[tuple[int, int, list[bytes]]],
            trust: Trust, report: Report) -> dict[int, tuple[bytes, int | None]] | None:
    """Inclusion of every entry, consistency between the checkpoints; returns size ->
    (root, earliest time a quorum of witnesses had cosigned it, or None)."""
    roots: dict[int, tuple[bytes, int | None]] = {}
    cosigns: dict[int, dict[str, int]] = {}  # size -> pinned witness -> cosignature time
    for entry, proof in entries:
        try:
            if proof.index != entry.seq:
                raise FormatError(f"proof index {proof.index} is not the entry's seq")
            cp, cosigned = verify_proof(proof, entry.hash, trust.log_key, trust.origin,
                                        trust.witnesses)
            known = {(k.name, k.key_id) for k in (trust.log_key, *trust.witnesses)}
            for sig in parse_note(proof.note).signatures:
                if (sig.name, sig.key_id) not in known:
                    # Signed notes may carry signatures of unknown keys; a bundle may not:
                    # every byte of it must be accounted for.
                    raise FormatError(f"checkpoint signature by unknown key {sig.name}")
        except VerifierError as exc:
            report.add(_bad("BUNDLE.proof", entry.seq, f"第 {entry.seq} 条的包含证明无效：{exc}",
                            f"the inclusion proof of entry {entry.seq} fails: {exc}"))
            continue
        seen = roots.setdefault(cp.size, (cp.root, None))
        if seen[0] != cp.root:
            report.add(_bad("V1.fork", entry.seq, f"同一规模 {cp.size} 的两个检查点根不同（分叉）",
                            f"two checkpoints of size {cp.size} differ (a fork)"))
        for witness, t in cosigned.items():
            cosigns.setdefault(cp.size, {}).setdefault(witness, t)
    _plausible(cosigns, time.time() + COSIGNATURE_SKEW, report)
    for size, by_witness in cosigns.items():
        times = sorted(by_witness.values())
        if trust.quorum and len(times) >= trust.quorum:
            roots[size] = (roots[size][0], times[trust.quorum - 1])
    sizes = sorted(roots)
    links = {(old, new): proof for old, new, proof in consistency}
    for old, new in itertools.pairwise(sizes):
        proof = links.get((old, new))
        try:
            if proof is None:
                raise FormatError("missing")
            verify_consistency(old, new, roots[old][0], roots[new][0], proof)
        except VerifierError as exc:
            report.add(_bad("BUNDLE.consistency", None,
                            f"检查点 {old} 与 {new} 之间的一致性证明无效：{exc}",
                            f"the consistency proof from checkpoint {old} to {new} fails: "
                            f"{exc}"))
    if len(links) != max(0, len(sizes) - 1):
        report.add(_bad("BUNDLE.consistency", None, "一致性证明与所用检查点不对应",
                        "the consistency proofs do not link exactly the checkpoints used"))
    report.checkpoints = report.checkpoints_verified = len(roots)
    return None if report.exit_code == 2 else roots


def _check(entries: list[tuple[Entry, Any]], embedded: Trust, pinned: Trust, was_pinned: bool,
           report: Report, view: BundleView, roots: dict[int, tuple[bytes, int | None]],
           background: bool) -> None:
    ordered = sorted((e for e, _ in entries), key=lambda e: e.seq)
    if not ordered or ordered[0].seq != 0 or ordered[0].type != "log.genesis":
        report.add(_bad("BUNDLE.genesis", None, "证明包缺少创世条目",
                        "the bundle lacks the genesis entry"))
        return
    genesis = ordered[0].body
    problems = _trust_vs_genesis(embedded, genesis, beacons=True)
    if was_pinned:
        problems += [f"pinned {p}" for p in _trust_vs_genesis(pinned, genesis, beacons=False)]
    for problem in problems:
        report.add(_bad("V1.trust", 0, f"创世条目与信任策略不符：{problem}",
                        f"the genesis entry differs from the trust policy: {problem}"))
    keys = {k.name: (k, "authority", 0) for k in pinned.authority_keys}
    state = LogState(body_check=None)
    auditor = DrawAuditor(pinned.chains(), background=background)
    auditor.compare = _commit_lists
    if log_spec(genesis) >= SPEC_V2 and view.openings is None:
        report.add(_bad("BUNDLE.format", None, "规范第 2 版日志的证明包须为审计证明包（含开启值）",
                        f"a v2 log's bundle must be a {FORMAT_V2} auditor bundle (openings)"))
        return
    for entry in ordered:
        key = keys.get(entry.sig["key"])
        signed_ok = key is not None and key[2] <= entry.seq and \
            key[0].verify(entry.signed_bytes(), entry.signature())
        report.signatures_checked += 1
        if not signed_ok:
            report.add(_bad("V1.signature", entry.seq,
                            f"第 {entry.seq} 条的签名无法用已登记的密钥核验",
                            f"entry {entry.seq} is not signed by a key registered before it"))
        if entry.type == "key.registered" and key is not None and key[1] == "authority" \
                and entry.body.get("role") != "auditor":  # an auditor key signs no entry
            try:
                registered = NoteVerifier.from_vkey(str(entry.body["vkey"]))
                keys[registered.name] = (registered, str(entry.body.get("dept")), entry.seq)
            except (FormatError, KeyError):
                pass
        elif entry.sig["key"] in keys and keys[entry.sig["key"]][1] not in (
                "authority", entry.actor):
            report.add(_bad("V1.key", entry.seq, f"第 {entry.seq} 条的签名密钥不属于 {entry.actor}",
                            f"entry {entry.seq} is signed by a key of another department"))
        stream = f"draw/{view.draw}"
        if entry.type == "draw.committed" and entry.stream == stream:
            view.commit = entry
            view.commit_time = entry.time
            view.commit_witnessed = _witnessed(entry.seq, roots)
            if view.snapshot is not None:
                auditor.snapshots[stream] = view.snapshot
        if view.openings is not None and entry.seq > 0:
            try:
                entry = replace(entry, body=unseal(entry.type, entry.stream, entry.body,
                                                   view.openings.pop(entry.seq, None)))
            except SealError as exc:
                report.add(_bad(exc.rule, entry.seq, f"第 {entry.seq} 条：{exc.zh}",
                                f"entry {entry.seq}: {exc.en}"))
        state.apply(entry.seq, entry.stream, entry.version, entry.type, entry.actor, entry.body,
                    entry.sig)
        if entry.type == "draw.committed" and entry.stream == stream:
            view.commit = entry
        if entry.type.startswith("draw.") and entry.stream == stream:
            if entry.type == "draw.executed" and view.execution is None:
                view.execution = entry
            for finding in auditor.feed(entry.seq, entry.type, entry.body, entry.time,
                                        entry.hash, state):
                report.add(finding)
    for seq in sorted(view.openings or ()):
        report.add(_bad("SEAL.extra", seq,
                        f"证明包有第 {seq} 条的开启值，但包中没有该条目或它不封存",
                        f"the bundle holds an opening for entry {seq}, which it does not hold "
                        "or which seals nothing"))
    last = ordered[-1].time
    for finding in auditor.finish(state, last, every_batch=False):
        report.add(finding)
    report.draws = auditor.stats.to_json()
    if view.commit is None or view.execution is None:
        report.add(Finding("BUNDLE.incomplete", UNVERIFIABLE, None,
                           f"证明包中没有抽取 {view.draw} 的承诺和执行条目",
                           f"the bundle holds no commitment and execution of {view.draw}"))
        return
    batch = _batch_of(view, state)
    if batch is not None:
        _evidence(view, batch, auditor)
        _pool_rule(view, batch, report)


def _plausible(cosigns: dict[int, dict[str, int]], limit: float, report: Report) -> None:
    """Drop, with a finding, the cosignatures whose time cannot be true (SPEC.md 7.3: from
    the future, or against the witness's own order), as the audit does: a commitment is
    witnessed early only on times that can be."""
    for c, bigger in implausible((Cosigned(w, size, t, f"{size}")
                                  for size, by_witness in sorted(cosigns.items())
                                  for w, t in sorted(by_witness.items())), limit):
        del cosigns[c.size][c.witness]
        why_zh = ("晚于当前时间" if bigger is None
                  else f"晚于其对更大的 {bigger.size} 条检查点的联署")
        why_en = ("is after now" if bigger is None
                  else f"is after its cosignature of the bigger {bigger.size}-entry checkpoint")
        report.add(_bad("V1.cosignature_time", None,
                        f"见证 {c.witness} 对 {c.size} 条检查点的联署时间{why_zh}，不作为证据",
                        f"witness {c.witness}'s cosignature of the {c.size}-entry checkpoint "
                        f"{why_en}: not used as evidence"))


def _witnessed(seq: int, roots: dict[int, tuple[bytes, int | None]]) -> int | None:
    times = [t for size, (_, t) in roots.items() if size > seq and t is not None]
    return min(times) if times else None


def _commit_lists(seq: int, commit: dict[str, Any], summary: dict[str, Any]
                  ) -> list[Finding]:
    """The lists must be exactly what the commitment's roots stand for. ``summary`` is
    that of the bundle's own lists (their leaves are the snapshot's, checked on parsing)."""
    out = []
    for name in _LISTS:
        claimed = commit.get(name)
        if not isinstance(claimed, dict) or claimed.get("root") != summary[name]["root"] \
                or claimed.get("size") != summary[name]["size"]:
            out.append(_bad("BUNDLE.snapshot", seq,
                            f"证明包中的{name}清单与承诺的默克尔根不符（清单被改动或删减）",
                            f"the bundle's {name} list does not match the committed root "
                            "(edited, dropped or added members)"))
    return out


def _trust_vs_genesis(trust: Trust, body: dict[str, Any], *, beacons: bool) -> list[str]:
    problems = []
    for name, mine in (("origin", trust.origin), ("log_key", trust.log_key.vkey),
                       ("authority_keys", [k.vkey for k in trust.authority_keys]),
                       ("witnesses", [w.vkey for w in trust.witnesses]),
                       ("quorum", trust.quorum)):
        if body.get(name) != mine:
            problems.append(name)
    if beacons and body.get("beacons", []) != [chain_to_json(c) for c in trust.beacons]:
        problems.append("beacons")
    return problems


def _batch_of(view: BundleView, state: LogState) -> dict[str, Any] | None:
    """The committed batch as the included plan version defines it."""
    assert view.commit is not None
    plan = state.plans.get(str(view.commit.body.get("plan_id")))
    found = plan.batch(str(view.commit.body.get("batch_id"))) if plan else None
    return found[1] if found else None


def _evidence(view: BundleView, batch: dict[str, Any], auditor: DrawAuditor) -> None:
    """Claimed (the log's time) or witnessed (a quorum cosigned a checkpoint holding the
    commitment before the beacon round was due)."""
    assert view.commit is not None
    beacon = view.commit.body.get("beacon")
    chain = auditor.chains.get(str(beacon.get("chain"))) if isinstance(beacon, dict) else None
    if chain is None:
        return
    view.round_time = chain.round_time(chain.round_at(int(draw_time(batch).timestamp())))
    if view.commit_witnessed is not None and view.commit_witnessed < view.round_time:
        view.evidence = "witnessed"


def _pool_rule(view: BundleView, batch: dict[str, Any], report: Report) -> None:
    """A pool member outside the plan's rule or in the wrong stratum is a committed
    violation (the full audit sees it as a V4.snapshot difference)."""
    assert view.commit is not None and view.snapshot is not None
    rule = pool_rule(batch)
    for m in view.snapshot.pool:
        fields = dict(zip(TARGET_FIELDS, m.fields, strict=True))
        if not matches(rule, fields) or stratum_of(batch, fields) != m.stratum:
            report.add(Finding("V4.pool_rule", VIOLATION, view.commit.seq,
                               f"对象 {m.uscc} 不符合计划的抽查范围或分层规则",
                               f"pool member {m.uscc} is outside the plan's pool rule or in "
                               "the wrong stratum"))


def entity_report(view: BundleView, uscc: str) -> dict[str, Any]:
    """Was ``uscc`` in the pool, its score, its stratum's cut-off, drawn or not, with the
    Merkle evidence (inclusion in the committed pool, or the two neighbours that prove it
    absent from the sorted list)."""
    assert view.snapshot is not None and view.execution is not None
    outcome = view.execution.body["outcome"]
    seed = bytes.fromhex(outcome["seed"])
    pool = view.snapshot.pool
    tree = MerkleTree(leaf_hash(leaf) for leaf in view.leaves["pool"])
    usccs = [m.uscc for m in pool]
    out: dict[str, Any] = {"uscc": uscc, "draw": view.draw,
                           "pool_root": tree.root().hex(), "pool_size": len(pool)}
    if uscc in usccs:
        i = usccs.index(uscc)
        member = pool[i]
        score = target_score(seed, member.stratum, uscc)
        cutoff = outcome["cutoffs"].get(member.stratum)
        team = next((s["team"] for s in outcome["selected"] if s["uscc"] == uscc), None)
        below = cutoff is not None and score.hex() <= cutoff
        out.update({"in_pool": True, "stratum": member.stratum, "score": score.hex(),
                    "cutoff": cutoff, "drawn": team is not None,
                    "consistent": (team is not None) == below,
                    "reason": _reason(team is not None, below, cutoff is not None),
                    "team": team, "leaf_index": i,
                    "leaf": view.leaves["pool"][i].decode(),
                    "proof": [h.hex() for h in tree.inclusion_proof(i)]})
        return out
    excluded = uscc in view.snapshot.excluded
    j = bisect.bisect_left(usccs, uscc)
    neighbours = [{"leaf_index": k, "uscc": usccs[k],
                   "proof": [h.hex() for h in tree.inclusion_proof(k)]}
                  for k in (j - 1, j) if 0 <= k < len(pool)]
    reason = (("在排除期内（近期已被检查），不进入检查对象池，故未被抽中",
               "excluded by the plan's exclusion window (inspected recently), so not in the "
               "pool and not drawn") if excluded else
              ("不在本次抽取已承诺的检查对象池中（不在抽查范围内或未登记），故未被抽中；两个相邻"
               "条目及其证明表明它不在有序清单中",
               "not in the draw's committed pool (outside the pool rule or not registered), "
               "hence not drawn; the two neighbouring leaves and their proofs show it is "
               "absent from the sorted list"))
    out.update({"in_pool": False, "excluded": excluded, "drawn": False,
                "reason": {"zh": reason[0], "en": reason[1]}, "neighbours": neighbours})
    return out


def _reason(drawn: bool, below: bool, has_cutoff: bool) -> dict[str, str]:
    """Why an entity in the pool was or was not drawn, in words (SPEC.md 14.7: drawn
    exactly when its score is at or below its stratum's cut-off)."""
    if drawn and below:
        zh, en = ("得分不高于本层分界（小于或等于），故被抽中",
                  "score at or below the stratum's cut-off, hence drawn")
    elif not drawn and not has_cutoff:
        zh, en = "本层没有抽取任何对象，故未被抽中", "the stratum drew no one, hence not drawn"
    elif not drawn and not below:
        zh, en = ("得分高于本层分界，故未被抽中",
                  "score above the stratum's cut-off, hence not drawn")
    elif drawn:
        zh, en = ("执行记录称其被抽中，但得分高于本层分界：与抽取规则不符",
                  "the execution record says drawn, but the score is above the cut-off: "
                  "this contradicts the draw rule")
    else:
        zh, en = ("得分不高于本层分界，本应被抽中，但执行记录未列出：与抽取规则不符",
                  "score at or below the cut-off, so it should have been drawn, but the "
                  "execution record does not list it: this contradicts the draw rule")
    return {"zh": zh, "en": en}
