"""Checking a compact entity proof (`drawledger/entity-proof/v1`, SPEC.md section 22).

One entity, one draw: the checker runs the eleven named steps of 22.2 in order and says
of each 通过 / 失败 and why, then the entity's fate. Everything rests on the pinned trust
policy: the entries by one multi-leaf inclusion proof to one witnessed checkpoint, the
plan and the draw by the statement signatures, the pool leaf by the committed root. The
draw's public checks (beacon, reveals, seed) are the full audit's own (``DrawAuditor``),
run on the included entries with no snapshot, as for a sealed draw audited without
openings.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from verifier._audit import EXIT_CLEAN, EXIT_INTEGRITY, EXIT_UNVERIFIABLE, EXIT_VIOLATION
from verifier._bundle import _trust_vs_genesis
from verifier._canonical import canonical, loads_canonical
from verifier._draw import TARGET_FIELDS, matches, pool_rule, target_score
from verifier._drawaudit import DrawAuditor, _Pending
from verifier._entry import Entry, parse_entry
from verifier._errors import FormatError, VerifierError
from verifier._merkle import leaf_hash, verify_inclusion
from verifier._multiproof import decode_hashes, verify_multi_inclusion
from verifier._note import (
    Checkpoint,
    Note,
    NoteVerifier,
    parse_checkpoint,
    parse_note,
    verify_cosignatures,
    verify_note,
)
from verifier._registry import check_uscc
from verifier._sealed import SPEC_V2, log_spec
from verifier._state import INTEGRITY, UNVERIFIABLE, VIOLATION, Finding, LogState
from verifier._trust import Trust, parse_trust

__all__ = ["FORMAT", "MAX_BYTES", "STEPS", "EntityProofResult", "NotAnEntityProof",
           "normalise_uscc", "verify_entity_proof"]

FORMAT = "drawledger/entity-proof/v1"
MAX_BYTES = 1 << 20
STEPS = ("format", "proofs", "genesis", "signatures", "plan", "stream", "beacon", "reveals",
         "seed", "pool", "fate")
_STEP_ZH = {"format": "文件格式", "proofs": "检查点与包含证明", "genesis": "创世条目与信任策略",
            "signatures": "声明签名", "plan": "抽查计划", "stream": "抽取记录序列",
            "beacon": "随机信标", "reveals": "承诺揭示", "seed": "随机种子",
            "pool": "检查对象池", "fate": "抽取结果"}
_MEMBERS = frozenset({"format", "draw", "uscc", "trust", "checkpoint", "entries", "proof",
                      "pool", "excluded"})
_ITEM = frozenset({"index", "leaf", "proof"})
_V1_LEAF = frozenset({*TARGET_FIELDS, "stratum", "uscc"})
_V2_LEAF = frozenset({*TARGET_FIELDS, "sealed", "uscc"}) - {"risk"}
_HEX = frozenset("0123456789abcdef")
_AFTER = frozenset({"draw.unfillable", "draw.substituted"})
# Which step reports which rule of the draw audit (DrawAuditor's findings).
_RULE_STEP = {"V5": "beacon", "V4.commit_late": "beacon", "V6": "reveals", "V5.lottery": "seed",
              "V8": "seed"}


class NotAnEntityProof(ValueError):
    """The file does not name the format anywhere: a usage error (exit 64), not a
    damaged proof."""


def normalise_uscc(text: str) -> tuple[str, tuple[str, str] | None]:
    """The code as the registries hold it (SPEC.md 15.3: NFKC, no whitespace, upper case)
    and, when it is still not a valid USCC, why not (Chinese, English)."""
    code = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    errors, _ = check_uscc(code)
    if not errors:
        return code, None
    return code, (f"统一社会信用代码 {code} 无效：" + "；".join(p.zh for p in errors),
                  f"USCC {code} is not valid: " + "; ".join(p.en for p in errors))


class _Fail(Exception):
    def __init__(self, rule: str, zh: str, en: str, kind: str = INTEGRITY) -> None:
        super().__init__(en)
        self.rule, self.zh, self.en, self.kind = rule, zh, en, kind


@dataclass
class EntityProofResult:
    """Each step's outcome, the verdict on the entity's fate and the exit status."""

    draw: str = ""
    uscc: str = ""
    trust_source: str = "file"
    steps: list[dict[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        kinds = {s["kind"] for s in self.steps if not s["ok"]}
        if INTEGRITY in kinds:
            return EXIT_INTEGRITY
        if UNVERIFIABLE in kinds:
            return EXIT_UNVERIFIABLE
        return EXIT_VIOLATION if VIOLATION in kinds else EXIT_CLEAN

    def add(self, step: str, problems: list[Finding]) -> None:
        """Record ``step``: passed, or failed with its problems (the worst kind first)."""
        if not problems:
            self.steps.append({"step": step, "ok": True, "kind": None, "rule": None,
                               "zh": f"{_STEP_ZH[step]}：通过", "en": f"{step}: passed"})
            return
        rank = {INTEGRITY: 0, UNVERIFIABLE: 1, VIOLATION: 2}
        problems = sorted(problems, key=lambda f: rank.get(f.kind, 3))
        self.steps.append({"step": step, "ok": False, "kind": problems[0].kind,
                           "rule": problems[0].rule,
                           "zh": f"{_STEP_ZH[step]}：失败：" + "；".join(f.zh for f in problems),
                           "en": f"{step}: failed: " + "; ".join(f.en for f in problems)})

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "exit_code": self.exit_code, "draw": self.draw,
                "uscc": self.uscc, "trust_source": self.trust_source, "steps": self.steps,
                "answer": self.answer}


def _f(rule: str, zh: str, en: str, kind: str = INTEGRITY) -> Finding:
    return Finding(rule, kind, None, zh, en)


def _hex64(value: Any, where: str) -> bytes:
    if type(value) is not str or len(value) != 64 or not set(value) <= _HEX:
        raise FormatError(f"{where}: not 64 lowercase hex digits")
    return bytes.fromhex(value)


def _index(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise FormatError(f"{where}: not a non-negative integer")
    return value


def _leaf_item(value: Any, where: str) -> dict[str, Any]:
    """{index, leaf, proof}: the leaf canonical JSON of an object, the path base64."""
    if type(value) is not dict or value.keys() != _ITEM:
        raise FormatError(f"{where}: needs exactly the members {sorted(_ITEM)}")
    if type(value["leaf"]) is not str or type(value["proof"]) is not list:
        raise FormatError(f"{where}: leaf must be text and proof a list")
    obj = loads_canonical(value["leaf"].encode())
    if type(obj) is not dict or not all(type(v) is str for v in obj.values()):
        raise FormatError(f"{where}.leaf: not an object of strings")
    return {"index": _index(value["index"], f"{where}.index"), "leaf": value["leaf"],
            "fields": obj, "proof": decode_hashes(value["proof"], f"{where}.proof")}


@dataclass
class _Parsed:
    draw: str
    uscc: str
    trust: Trust
    note: Note
    checkpoint: Checkpoint
    entries: list[Entry]
    proof: list[bytes]
    pool: dict[str, Any] | None  # the member's item, or None when absent
    absent: list[dict[str, Any] | None] | None
    excluded: dict[str, Any] | None


def _parse(data: bytes, expect_draw: str | None) -> _Parsed:
    if len(data) > MAX_BYTES:
        raise FormatError(f"the file is {len(data)} bytes, over the {MAX_BYTES}-byte limit")
    obj = loads_canonical(data)
    if type(obj) is not dict or obj.keys() != _MEMBERS or obj["format"] != FORMAT:
        raise FormatError(f"not a {FORMAT} object with exactly the members {sorted(_MEMBERS)}")
    draw, uscc = obj["draw"], obj["uscc"]
    if type(draw) is not str or "/" not in draw or draw.startswith("/") or draw.endswith("/"):
        raise FormatError("draw: not plan_id/batch_id")
    if expect_draw is not None and draw != expect_draw:
        raise FormatError(f"draw: the proof is for draw {draw}, not {expect_draw}")
    if type(uscc) is not str or normalise_uscc(uscc) != (uscc, None):
        raise FormatError("uscc: not a valid USCC as the registries hold it")
    trust = parse_trust(obj["trust"])
    if type(obj["checkpoint"]) is not str:
        raise FormatError("checkpoint: not the text of a signed checkpoint note")
    note = parse_note(obj["checkpoint"])
    checkpoint = parse_checkpoint(note.text)
    if type(obj["entries"]) is not list:
        raise FormatError("entries: not a list")
    entries = []
    for i, item in enumerate(obj["entries"]):
        if type(item) is not dict:
            raise FormatError(f"entries[{i}]: not an entry object")
        entries.append(parse_entry(canonical(item)))  # the exact bytes: the file is canonical
    seqs = [e.seq for e in entries]
    if not seqs or any(a >= b for a, b in itertools.pairwise(seqs)):
        raise FormatError("entries: empty or not in strictly increasing seq")
    proof = decode_hashes(obj["proof"], "proof")
    plan_stream = f"plan/{draw.rpartition('/')[0]}"
    for e in entries:
        if e.type.startswith("draw.") and e.stream != f"draw/{draw}":
            raise FormatError(f"entries: entry {e.seq} is a draw entry of another draw "
                              f"({e.stream})")
        if not (e.seq == 0 or e.type == "key.registered" or e.stream in (
                plan_stream, f"draw/{draw}")):
            raise FormatError(f"entries: entry {e.seq} ({e.type}) has no place in the proof")
    pool, absent = obj["pool"], None
    if type(pool) is dict and pool.keys() == {"absent"}:
        sides = pool["absent"]
        if type(sides) is not list or len(sides) != 2:
            raise FormatError("pool.absent: not a list of two neighbours")
        absent = [None if s is None else _leaf_item(s, f"pool.absent[{k}]")
                  for k, s in enumerate(sides)]
        pool = None
    else:
        pool = _leaf_item(pool, "pool")
    excluded = None if obj["excluded"] is None else _leaf_item(obj["excluded"], "excluded")
    return _Parsed(draw, uscc, trust, note, checkpoint, entries, proof, pool, absent, excluded)


def verify_entity_proof(data: bytes, trust: Trust | None = None, *,
                        expect_draw: str | None = None) -> EntityProofResult:
    """Run the steps of SPEC.md 22.2 on a file's bytes. NotAnEntityProof when the file
    does not name the format; otherwise never raises on bad data."""
    if FORMAT.encode() not in data:
        raise NotAnEntityProof(f"not an entity proof: the file does not name {FORMAT}")
    result = EntityProofResult()
    try:
        p = _parse(data, expect_draw)
    except (VerifierError, KeyError, TypeError, ValueError, RecursionError) as exc:
        result.add("format", [_f("EPROOF.format", f"证明文件格式错误：{exc}",
                                 f"the proof file is malformed: {exc}")])
        return result
    result.draw, result.uscc = p.draw, p.uscc
    result.add("format", [])
    pinned = trust or p.trust
    result.trust_source = "pinned" if trust else "file"
    steps = (("proofs", _proofs), ("genesis", _genesis), ("signatures", _signatures),
             ("plan", _plan), ("stream", _stream))
    ctx = _Context(p, pinned, trust is not None)
    for name, run in steps:
        problems = run(ctx)
        result.add(name, problems)
        if any(f.kind == INTEGRITY for f in problems):
            return result
    for name, problems in _draw_checks(ctx).items():
        result.add(name, problems)
    problems = _pool(ctx)
    result.add("pool", problems)
    if any(f.kind == INTEGRITY for f in problems):
        return result
    problems, result.answer = _fate(ctx)
    result.add("fate", problems)
    return result


@dataclass
class _Context:
    p: _Parsed
    trust: Trust
    pinned: bool
    plan: Entry | None = None
    batch: dict[str, Any] = field(default_factory=dict)
    commit: Entry | None = None
    execution: Entry | None = None
    reveals: list[Entry] = field(default_factory=list)
    after: list[Entry] = field(default_factory=list)
    spec: int = 1


def _proofs(ctx: _Context) -> list[Finding]:
    """The one checkpoint: signed by the pinned log key for the pinned origin, no
    signature by a key the policy does not name, cosigned by the quorum; then the
    multi-leaf inclusion proof of every entry, at its seq, to its root."""
    t, cp = ctx.trust, ctx.p.checkpoint
    known = {(k.name, k.key_id) for k in (t.log_key, *t.witnesses)}
    try:
        verify_note(ctx.p.note, [t.log_key])
        if cp.origin != t.origin:
            raise FormatError(f"its origin {cp.origin!r} is not the log's {t.origin!r}")
        if any((s.name, s.key_id) not in known for s in ctx.p.note.signatures):
            raise FormatError("it carries a signature by a key the trust policy does not name")
        cosigned = verify_cosignatures(ctx.p.note, t.witnesses) if t.witnesses else {}
        if len(cosigned) < t.quorum:
            raise FormatError(f"it has {len(cosigned)} witness cosignatures, fewer than the "
                              f"quorum {t.quorum}")
    except VerifierError as exc:
        return [_f("EPROOF.checkpoint", f"检查点（树大小 {cp.size}）无效：{exc}",
                   f"the checkpoint (tree size {cp.size}) fails: {exc}")]
    try:
        verify_multi_inclusion([e.seq for e in ctx.p.entries], cp.size,
                               [e.hash for e in ctx.p.entries], ctx.p.proof, cp.root)
    except VerifierError as exc:
        return [_f("EPROOF.proof", f"条目的包含证明无效：{exc}",
                   f"the inclusion proof of the entries fails: {exc}")]
    return []


def _genesis(ctx: _Context) -> list[Finding]:
    first = ctx.p.entries[0]
    if first.seq != 0 or first.type != "log.genesis":
        return [_f("EPROOF.genesis", "证明文件缺少创世条目", "the proof lacks the genesis entry")]
    ctx.spec = log_spec(first.body)
    problems = _trust_vs_genesis(ctx.p.trust, first.body, beacons=True)
    if ctx.pinned:
        problems += [f"pinned {p}" for p in _trust_vs_genesis(ctx.trust, first.body,
                                                              beacons=False)]
    if problems:
        return [_f("V1.trust", f"创世条目与信任策略不符：{', '.join(problems)}",
                   f"the genesis entry differs from the trust policy: {', '.join(problems)}")]
    if not ctx.pinned:
        return [_f("TRUST", "未固定信任策略：使用了证明文件自带的密钥，结论取决于这些密钥是否属实",
                   "no trust policy pinned: the file's own keys were used; the answer holds "
                   "only if they are the log's", UNVERIFIABLE)]
    return []


def _signatures(ctx: _Context) -> list[Finding]:
    """Genesis authority keys, and department keys registered (authority-signed
    ``key.registered``, role department) before the entry, for the entry's actor."""
    keys: dict[str, tuple[NoteVerifier, str, int]] = {
        k.name: (k, "authority", 0) for k in ctx.trust.authority_keys}
    out = []
    for e in ctx.p.entries:
        key = keys.get(e.sig["key"])
        if key is None or key[2] > e.seq or (key[2] == e.seq and e.seq > 0) \
                or not key[0].verify(e.signed_bytes(), e.signature()):
            out.append(_f("V1.signature", f"第 {e.seq} 条的签名无法用此前登记的密钥核验",
                          f"entry {e.seq} is not signed by a key registered before it"))
            continue
        if key[1] not in ("authority", e.actor):
            out.append(_f("V1.key", f"第 {e.seq} 条的签名密钥不属于 {e.actor}",
                          f"entry {e.seq} is signed by a key of another department"))
        if e.type == "key.registered" and key[1] == "authority" \
                and e.body.get("role") == "department":
            try:
                registered = NoteVerifier.from_vkey(str(e.body.get("vkey")))
            except VerifierError:
                continue
            keys[registered.name] = (registered, str(e.body.get("dept")), e.seq)
    return out


def _plan(ctx: _Context) -> list[Finding]:
    plan_id, _, batch_id = ctx.p.draw.rpartition("/")
    draws = [e for e in ctx.p.entries if e.stream == f"draw/{ctx.p.draw}"]
    if not draws or draws[0].type != "draw.committed":
        return [_f("EPROOF.stream", "证明文件缺少抽取承诺条目", "the proof lacks the commitment")]
    ctx.commit = draws[0]
    body = ctx.commit.body
    if body.get("plan_id") != plan_id or body.get("batch_id") != batch_id:
        return [_f("EPROOF.plan", "承诺条目不属于本次抽取", "the commitment is of another batch")]
    by_seq = {e.seq: e for e in ctx.p.entries}
    plan = by_seq.get(body.get("plan_seq")) if type(body.get("plan_seq")) is int else None
    if plan is None or plan.stream != f"plan/{plan_id}" or plan.seq >= ctx.commit.seq \
            or type(plan.body.get("tasks")) is not list:
        return [_f("EPROOF.plan", "证明文件不含承诺所引用（plan_seq）的计划版本",
                   "the proof lacks the plan version the commitment names (plan_seq)")]
    for task in plan.body["tasks"]:
        for batch in (task.get("batches") if type(task) is dict else None) or []:
            if type(batch) is dict and batch.get("batch_id") == batch_id:
                ctx.plan, ctx.batch = plan, batch
    if ctx.plan is None:
        return [_f("EPROOF.plan", f"计划版本中没有批次 {batch_id}",
                   f"the plan version holds no batch {batch_id}")]
    published = any(e.stream == plan.stream and e.type == "plan.published"
                    and e.seq < ctx.commit.seq for e in ctx.p.entries)
    if not published:
        return [_f("V2.plan_unpublished", f"批次 {ctx.p.draw} 承诺抽取时所属计划尚未公开",
                   f"batch {ctx.p.draw} was committed before its plan was published",
                   VIOLATION)]
    return []


def _stream(ctx: _Context) -> list[Finding]:
    """Versions 1..k without a gap up to the first execution (so it is the first, the one
    that counts); after it only this entity's unfillable and substitution entries."""
    assert ctx.commit is not None
    draws = [e for e in ctx.p.entries if e.stream == f"draw/{ctx.p.draw}"]
    k = next((i for i, e in enumerate(draws) if e.type == "draw.executed"), None)
    if k is None:
        return [_f("EPROOF.stream", "证明文件中没有抽取执行条目",
                   "the proof holds no execution of the draw")]
    head = draws[:k + 1]
    if [e.version for e in head] != list(range(1, k + 2)) \
            or any(e.type != "draw.revealed" for e in head[1:k]):
        return [_f("EPROOF.stream", "抽取记录的版本不是从 1 起连续到首次执行（缺条目或有多余条目）",
                   "the draw's versions are not 1, 2, ... up to its first execution")]
    ctx.execution, ctx.reveals = draws[k], head[1:k]
    if ctx.execution.body.get("commit_seq") != ctx.commit.seq:
        return [_f("EPROOF.stream", "执行条目未引用本次承诺", "the execution cites another "
                   "commitment")]
    ctx.after = draws[k + 1:]
    for e in ctx.after:
        if e.type not in _AFTER or e.body.get("uscc") != ctx.p.uscc:
            return [_f("EPROOF.stream", f"第 {e.seq} 条不是本企业的替换或无法组队记录",
                       f"entry {e.seq} is not an unfillable or substitution entry of this "
                       "entity")]
    return []


def _draw_checks(ctx: _Context) -> dict[str, list[Finding]]:
    """Beacon, reveals and seed: the audit's own checks of a draw without its snapshot."""
    assert ctx.commit is not None and ctx.execution is not None
    auditor = DrawAuditor(ctx.trust.chains())
    stream = f"draw/{ctx.p.draw}"
    c = ctx.commit
    found = auditor._round(c.seq, ctx.p.draw, c.body, ctx.batch, c.time)
    pending = _Pending(stream, str(c.body.get("dept")), "", ctx.batch, c.seq, c.hash, c.body,
                       None, [])
    auditor.pending[stream] = pending
    state = LogState(body_check=None)
    for e in (*ctx.reveals, ctx.execution):
        found += auditor.feed(e.seq, e.type, e.body, e.time, e.hash, state)
    out: dict[str, list[Finding]] = {"beacon": [], "reveals": [], "seed": []}
    for f in found:
        step = _RULE_STEP.get(f.rule) or _RULE_STEP.get(f.rule.partition(".")[0], "seed")
        out[step].append(f)
    outcome = ctx.execution.body.get("outcome")
    try:
        if type(outcome) is not dict or type(outcome.get("selected")) is not list \
                or type(outcome.get("cutoffs")) is not dict:
            raise FormatError("outcome: no selected list or cutoffs")
        _hex64(outcome.get("seed"), "outcome.seed")
        for h, v in outcome["cutoffs"].items():
            _hex64(v, f"outcome.cutoffs.{h}")
    except FormatError as exc:
        out["seed"].append(_f("V8.selection", f"执行记录的结果格式不符：{exc}",
                              f"the execution's outcome is malformed: {exc}", VIOLATION))
    return out


def _pool(ctx: _Context) -> list[Finding]:
    """The member's leaf under the committed pool root, or its two neighbours; the
    excluded leaf under the committed exclusion root."""
    assert ctx.commit is not None
    out = []
    code = ctx.p.uscc
    shape = _V2_LEAF if ctx.spec >= SPEC_V2 else _V1_LEAF
    for name, items in (("pool", [ctx.p.pool] if ctx.p.pool else ctx.p.absent or []),
                        ("excluded", [ctx.p.excluded])):
        committed = ctx.commit.body.get(name)
        try:
            if type(committed) is not dict or type(committed.get("size")) is not int:
                raise FormatError(f"the commitment has no {name} root and size")
            root = _hex64(committed.get("root"), f"commitment {name}.root")
            for item in items:
                if item is None:
                    continue
                want = shape if name == "pool" else frozenset({"uscc"})
                if item["fields"].keys() != want:
                    raise FormatError(f"a {name} leaf has not the members {sorted(want)}")
                verify_inclusion(item["index"], committed["size"], leaf_hash(
                    item["leaf"].encode()), item["proof"], root)
            if name == "pool":
                _neighbours(ctx, committed["size"])
            elif items[0] is not None and items[0]["fields"]["uscc"] != code:
                raise FormatError("the excluded leaf is another entity's")
        except VerifierError as exc:
            out.append(_f("EPROOF.pool", f"{name} 证明无效：{exc}", f"the {name} evidence "
                          f"fails: {exc}"))
    if not out and ctx.p.pool and ctx.p.excluded:
        out.append(_f("V4.snapshot", "该企业既在检查对象池中又在排除名单中：承诺的名单与规则不符",
                      "the entity is both in the pool and excluded: the committed lists "
                      "contradict the rule", VIOLATION))
    return out


def _neighbours(ctx: _Context, size: int) -> None:
    code = ctx.p.uscc
    if ctx.p.pool is not None:
        if ctx.p.pool["fields"]["uscc"] != code:
            raise FormatError("the pool leaf is another entity's")
        return
    left, right = ctx.p.absent or [None, None]
    if left is not None and not left["fields"]["uscc"] < code:
        raise FormatError("the left neighbour does not sort before the entity")
    if right is not None and not code < right["fields"]["uscc"]:
        raise FormatError("the right neighbour does not sort after the entity")
    if left is not None and right is not None and left["index"] + 1 != right["index"]:
        raise FormatError("the neighbours are not adjacent leaves")
    if left is None and right is None and size != 0:
        raise FormatError("no neighbour given for a non-empty pool")
    if left is None and right is not None and right["index"] != 0:
        raise FormatError("no left neighbour, yet the right one is not the first leaf")
    if right is None and left is not None and left["index"] != size - 1:
        raise FormatError("no right neighbour, yet the left one is not the last leaf")


def _judge(rule: dict[str, Any], fields: dict[str, str]) -> bool | None:
    """A filter on a leaf's public fields: True, False, or None when it reads a field the
    leaf does not show (a v2 leaf's risk class)."""
    unknown = False
    for name, allowed in rule.items():
        if name not in fields:
            unknown = True
        elif not matches({name: allowed}, fields):
            return False
    return None if unknown else True


def _fate(ctx: _Context) -> tuple[list[Finding], dict[str, Any]]:
    """The candidate strata, the entity's score in each against its cut-off, the verdict,
    and whether the execution agrees; the team after the included substitutions."""
    assert ctx.execution is not None and ctx.commit is not None
    outcome = ctx.execution.body["outcome"]
    code, out = ctx.p.uscc, []
    selected = {s.get("uscc"): s for s in outcome["selected"] if type(s) is dict}
    answer: dict[str, Any] = {"uscc": code, "draw": ctx.p.draw, "in_pool": ctx.p.pool
                              is not None, "excluded": ctx.p.excluded is not None,
                              "candidates": [], "drawn": None, "team": None,
                              "unfillable": False}
    if ctx.p.pool is None:
        answer.update(verdict="excluded" if ctx.p.excluded else "not_in_pool", drawn=False)
        if code in selected:
            out.append(_f("V8.selection", "执行记录抽中了不在已承诺检查对象池中的该企业",
                          "the execution drew this entity, which is not in the committed pool",
                          VIOLATION))
        return out, answer
    fields = dict(ctx.p.pool["fields"])
    answer["leaf_index"] = ctx.p.pool["index"]
    try:
        seed = bytes.fromhex(outcome["seed"])
        strata = [(str(s["id"]), s["filter"]) for s in ctx.batch["strata"]]
        rule = pool_rule(ctx.batch)
    except (KeyError, TypeError, ValueError) as exc:
        return [_f("EPROOF.plan", f"计划批次缺少分层或范围：{exc}",
                   f"the plan's batch lacks its strata or pool rule: {exc}")], answer
    candidates = []
    for h, filt in strata:
        judged = _judge(filt if type(filt) is dict else {"": []}, fields)
        if judged is False:
            continue
        candidates.append(h)
        if judged:
            break
    if "stratum" in fields:  # a v1 leaf names its stratum: the first that matches
        if candidates[-1:] != [fields["stratum"]] or len(candidates) != 1:
            out.append(_f("V4.pool_rule", f"对象 {code} 的分层不是计划中首个匹配的分层",
                          f"pool member {code} is not in its first matching stratum",
                          VIOLATION))
        candidates = [fields["stratum"]]
    if _judge(rule, fields) is False or not candidates:
        out.append(_f("V4.pool_rule", f"对象 {code} 不符合计划的抽查范围或任何分层",
                      f"pool member {code} is outside the plan's pool rule or every stratum",
                      VIOLATION))
    sample = (ctx.commit.body.get("pool") or {}).get("sample") or {}
    for h in candidates:
        score = target_score(seed, h, code).hex()
        cutoff = outcome["cutoffs"].get(h)
        if cutoff is None and type(sample) is dict and sample.get(h, 0) != 0:
            out.append(_f("V8.selection", f"第 {h} 层应抽取 {sample.get(h)} 个对象，但执行记录没有"
                          "该层分界", f"stratum {h} samples {sample.get(h)} but the "
                          "execution gives no cut-off", VIOLATION))
        answer["candidates"].append({"stratum": h, "score": score, "cutoff": cutoff,
                                     "drawn": cutoff is not None and score <= cutoff})
    fates = {c["drawn"] for c in answer["candidates"]}
    verdict = ("depends_on_internal_field" if len(fates) > 1 else
               "drawn" if fates == {True} else "not_drawn")
    answer["verdict"] = verdict
    listed = selected.get(code)
    answer["drawn"] = listed is not None
    if (listed is not None) not in fates or (listed is not None and "stratum" in listed and (
            [listed.get("stratum"), listed.get("score")] != [candidates[0],
                                                               answer["candidates"][0]["score"]])):
        out.append(_f("V8.selection", "执行记录与抽取规则不符（按得分与分界，该企业"
                      + ("不应被抽中" if listed else "应被抽中") + "）",
                      "the execution contradicts the draw rule (by its score and the cut-off, "
                      f"this entity should {'not ' if listed else ''}have been drawn)",
                      VIOLATION))
    if listed is not None:
        team = [str(c) for c in listed.get("team") or []]
        for e in ctx.after:
            if e.type == "draw.substituted":
                new = e.body.get("in")
                team = [str(new) if c == e.body.get("out") else c for c in team
                        if c != e.body.get("out") or new is not None]
        answer["team"] = team
        answer["unfillable"] = any(type(u) is dict and u.get("uscc") == code
                                   for u in outcome.get("unfillable") or [])
    return out, answer

