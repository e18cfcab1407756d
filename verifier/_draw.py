"""SSJ-DRAW-v1: the seed, the target selection and the inspector matching (SPEC.md section 7).

Everything here is a pure function of published data: the snapshot committed before the
beacon round (pool, roster, conflict and exclusion lists), the randomness evidence and
the plan's batch. The ledger calls it to perform a draw, the auditor and the bundle
checker call it again to recompute the outcome byte for byte, and an entity can recompute
its own score. Scores are HMAC-SHA256 values compared as big-endian byte strings
("bottom-k"): no modulo, no dependence on input order.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import heapq
import hmac
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Any

from verifier._canonical import dumps
from verifier._errors import FormatError
from verifier._merkle import leaf_hash, root_of_leaf_hashes

__all__ = [
    "ALGORITHM",
    "INELIGIBLE",
    "LEAF_DOMAIN",
    "Candidate",
    "Member",
    "Outcome",
    "Snapshot",
    "draw_seed",
    "execute",
    "inspector_score",
    "leaf_seal",
    "lp",
    "matches",
    "public_outcome",
    "reveal_commitment",
    "sample_size",
    "sealed_conflict_leaf",
    "sealed_pool_leaf",
    "sealed_roster_leaf",
    "start_summary",
    "stratum_of",
    "target_score",
]

ALGORITHM = "SSJ-DRAW-v1"
LEAF_DOMAIN = "drawledger/leaf/v2"
PPM = 1_000_000
TARGET_FIELDS = ("registry", "industry", "region", "risk", "status", "unit")
_PREFIX_FIELDS = frozenset({"industry", "region"})
# Why an inspector is passed over, in the order the rules are tried (SPEC.md 14.8).
INELIGIBLE = {
    "expert": ("专家不计入检查组人数", "experts never count toward a team"),
    "unqualified": ("不具备该事项的检查资格", "not qualified for the batch's matter"),
    "not_valid": ("执法证件在抽取日不在有效期内", "certificate not valid on the draw date"),
    "declared": ("已申报回避关系", "declared conflict with the target"),
    "prior": ("回避期内检查过该对象", "inspected the target within the prior-inspection window"),
    "same_unit": ("与检查对象同属一个单位（所所交叉）", "same unit as the target (所所交叉)"),
    "in_team": ("已在该对象的检查组中", "already on the target's team"),
    "recused": ("已因回避从该对象的检查组替换出", "substituted out of this target's team"),
    "load": ("已达本批次检查任务上限", "at the batch's load cap"),
}


def lp(*fields: bytes | str) -> bytes:
    """Length-prefixed concatenation: each field as a 4-byte big-endian length, then its
    bytes (strings as UTF-8), so no two field lists share an encoding."""
    out = bytearray()
    for f in fields:
        data = f.encode() if isinstance(f, str) else f
        out += len(data).to_bytes(4, "big")
        out += data
    return bytes(out)


def reveal_commitment(plan_id: str, batch_id: str, dept: str, secret: bytes) -> str:
    """The hex commitment a party publishes in ``draw.committed`` for its secret."""
    return hashlib.sha256(lp(ALGORITHM + "/reveal", plan_id, batch_id, dept, secret)).hexdigest()


def draw_seed(plan_id: str, batch_id: str, commit_hash: bytes, beacon_randomness: bytes,
              lottery_key: str, reveals: Sequence[tuple[str, bytes | None]]) -> bytes:
    """HMAC-SHA256 keyed with the algorithm id over every input, length-prefixed.

    An unrevealed secret enters as an empty field (secrets are 32 bytes, so it cannot be
    confused with one): the draw goes on and the audit reports the party.
    """
    fields: list[bytes | str] = [ALGORITHM, plan_id, batch_id, commit_hash, beacon_randomness,
                                 lottery_key]
    for dept, secret in reveals:
        fields += [dept, secret or b""]
    return hmac.digest(ALGORITHM.encode(), lp(*fields), "sha256")


def target_score(seed: bytes, stratum: str, uscc: str) -> bytes:
    return hmac.digest(seed, lp("T", stratum, uscc), "sha256")


def inspector_score(seed: bytes, uscc: str, dept: str, cert_no: str) -> bytes:
    return hmac.digest(seed, lp("I", uscc, dept, cert_no), "sha256")


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@lru_cache(maxsize=16)
def _pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer SHA-256 states after the padded key (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def _scores(seed: bytes, prefix: bytes, ids: Iterable[str]) -> list[tuple[bytes, str]]:
    """(HMAC(seed, prefix || LP(id)), id) for each id: the hot loop of a draw. The key's
    pads and the fixed part of the message are hashed once and their states copied, so an
    id costs two SHA-256 compressions and no HMAC set-up; equal to hmac.digest. Ids of one
    byte length (every USCC is 18) also share their length prefix in the copied state."""
    inner, outer = _pads(seed)
    inner = inner.copy()
    inner.update(prefix)
    ocopy = outer.copy
    by_len: dict[int, Any] = {}
    out: list[tuple[bytes, str]] = []
    append = out.append
    for i in ids:
        data = i.encode()
        icopy = by_len.get(len(data))
        if icopy is None:
            state = inner.copy()
            state.update(len(data).to_bytes(4, "big"))
            icopy = by_len[len(data)] = state.copy
        h = icopy()
        h.update(data)
        o = ocopy()
        o.update(h.digest())
        append((o.digest(), i))
    return out


def sample_size(population: int, ratio_ppm: int, rounding: str) -> int:
    """n_h from N_h: the plan's rounding of N·ppm/10^6 in integers, at least 1 when the
    stratum is not empty, at most N_h."""
    if population <= 0:
        return 0
    product = population * ratio_ppm
    if rounding == "ceil":
        n = -(-product // PPM)
    elif rounding == "floor":
        n = product // PPM
    elif rounding == "half_up":
        n = (product + PPM // 2) // PPM
    else:
        raise FormatError(f"rounding: unknown rule {rounding!r}")
    return min(population, max(1, n))


def matches(rule: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """A pool or stratum filter: every listed field must match one of its values; industry
    and region match by prefix (a section or a province), the others exactly."""
    for name, allowed in rule.items():
        value = target.get(name)
        if not isinstance(value, str) or not isinstance(allowed, list):
            return False
        if name in _PREFIX_FIELDS:
            if not any(value.startswith(a) for a in allowed):
                return False
        elif value not in allowed:
            return False
    return True


def pool_rule(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The batch's pool rule as a filter (``registries`` filters the ``registry`` field)."""
    pool = batch["pool"]
    rule: dict[str, Any] = {"registry": pool["registries"]}
    for name in ("industry", "region", "status", "risk", "unit"):
        if name in pool:
            rule[name] = pool[name]
    return rule


def stratum_of(batch: Mapping[str, Any], target: Mapping[str, Any]) -> str | None:
    """The first stratum whose filter the target matches, or None: outside the pool."""
    for stratum in batch["strata"]:
        if matches(stratum["filter"], target):
            return str(stratum["id"])
    return None


_STR = json.encoder.encode_basestring  # the C string encoder of json.dumps(ensure_ascii=False)
_USCC = attrgetter("uscc")
_STRATUM = attrgetter("stratum")


@dataclass(frozen=True, slots=True)
class Member:
    """A pool member as committed: its stratum and the fields the rules read."""

    uscc: str
    stratum: str
    fields: tuple[str, ...]  # TARGET_FIELDS, in order

    @property
    def unit(self) -> str:
        return self.fields[5]

    def to_json(self) -> dict[str, str]:
        return {"uscc": self.uscc, "stratum": self.stratum, **dict(zip(TARGET_FIELDS,
                                                                        self.fields, strict=False))}

    def leaf(self) -> bytes:
        """``dumps(self.to_json())``: see ``_leaf_prefix``."""
        return _leaf_prefix(self.fields, self.stratum) + _STR(self.uscc).encode() + b"}"


@lru_cache(maxsize=4096)
def _leaf_prefix(fields: tuple[str, ...], stratum: str) -> bytes:
    """A pool leaf up to its last value: ``dumps`` of the member written out (keys in
    their sorted order, each value through the same C string encoder), with the USCC last.
    A pool has a few hundred distinct (fields, stratum) pairs among a million members, so
    the leaves and their hashes start from these prefixes."""
    registry, industry, region, risk, status, unit = fields
    e = _STR
    return (f'{{"industry":{e(industry)},"region":{e(region)},"registry":{e(registry)},'
            f'"risk":{e(risk)},"status":{e(status)},"stratum":{e(stratum)},'
            f'"unit":{e(unit)},"uscc":').encode()


def leaf_seal(key: bytes, name: str, ident: str, internal: Mapping[str, Any]) -> str:
    """A v2 snapshot leaf's ``sealed`` (SPEC.md 21.4): HMAC-SHA256 under the draw's
    snapshot key over LP(domain, list name, the leaf's id, canonical internal part)."""
    inner, outer = _pads(key)  # cached per key: a draw seals its thousands of leaves
    h = inner.copy()
    h.update(lp(LEAF_DOMAIN, name, ident, dumps(dict(internal))))
    o = outer.copy()
    o.update(h.digest())
    digest: str = o.hexdigest()
    return digest


def sealed_pool_leaf(m: Member, key: bytes) -> bytes:
    """A v2 pool leaf: the public fields, with risk class and stratum sealed."""
    registry, industry, region, risk, status, unit = m.fields
    return dumps({"industry": industry, "region": region, "registry": registry,
                  "sealed": leaf_seal(key, "pool", m.uscc, {"risk": risk,
                                                            "stratum": m.stratum}),
                  "status": status, "unit": unit, "uscc": m.uscc})


def sealed_roster_leaf(c: Candidate, key: bytes) -> bytes:
    """A v2 roster leaf: the public fields, with the certificate's validity sealed."""
    return dumps({"cert_no": c.cert_no, "dept": c.dept, "expert": c.expert,
                  "qualified": c.qualified, "sealed": leaf_seal(
                      key, "roster", c.cert_no, {"valid_from": c.valid_from,
                                                 "valid_to": c.valid_to}),
                  "unit": c.unit})


def sealed_conflict_leaf(cert: str, uscc: str, kind: str, key: bytes) -> bytes:
    """A v2 conflict leaf: nothing public but the seal of the pair and its kind."""
    return dumps({"sealed": leaf_seal(key, "conflicts", f"{cert}/{uscc}",
                                      {"cert_no": cert, "kind": kind, "uscc": uscc})})


def pool_leaf_hashes(pool: Iterable[Member], seal: bytes | None = None) -> list[bytes]:
    """``leaf_hash(m.leaf())`` for each member, from a SHA-256 state per distinct prefix
    (with a v2 snapshot ``key``, the sealed leaves, each hashed whole)."""
    if seal is not None:
        return [leaf_hash(sealed_pool_leaf(m, seal)) for m in pool]
    states: dict[tuple[tuple[str, ...], str], Any] = {}
    e = _STR
    out: list[bytes] = []
    append = out.append
    for m in pool:
        key = (m.fields, m.stratum)
        copy = states.get(key)
        if copy is None:
            copy = states[key] = hashlib.sha256(b"\x00" + _leaf_prefix(*key)).copy
        h = copy()
        h.update(e(m.uscc).encode() + b"}")
        append(h.digest())
    return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """A roster member as committed for one batch (``qualified`` for the batch's matter)."""

    cert_no: str
    dept: str
    unit: str
    qualified: bool
    valid_from: str
    valid_to: str
    expert: bool

    def to_json(self) -> dict[str, Any]:
        return {"cert_no": self.cert_no, "dept": self.dept, "unit": self.unit,
                "qualified": self.qualified, "valid_from": self.valid_from,
                "valid_to": self.valid_to, "expert": self.expert}


@dataclass(slots=True)
class Snapshot:
    """What ``draw.committed`` binds: the pool (sorted by USCC), the roster (sorted by
    department and 执法证号), conflict pairs with their kind, and the excluded USCCs."""

    pool: list[Member]
    roster: list[Candidate]
    conflicts: dict[tuple[str, str], str]  # (cert_no, uscc) -> "declared" or "prior"
    excluded: list[str]
    # A v2 draw's snapshot key (SPEC.md 21.4): the committed leaves seal their internal
    # part under it. None: the v1 leaves, every field in clear.
    key: bytes | None = None

    def __post_init__(self) -> None:
        self.pool.sort(key=_USCC)
        self.roster.sort(key=lambda c: (c.dept, c.cert_no))
        self.excluded.sort()

    def leaves(self, pool: bool = True) -> dict[str, list[bytes]]:
        """Each list's canonical leaves, in order (``pool=False`` leaves the pool out)."""
        conflicts = sorted(self.conflicts.items())
        key = self.key
        if key is not None:
            return {
                **({"pool": [sealed_pool_leaf(m, key) for m in self.pool]} if pool else {}),
                "roster": [sealed_roster_leaf(c, key) for c in self.roster],
                "conflicts": [sealed_conflict_leaf(c, u, k, key) for (c, u), k in conflicts],
                "excluded": [dumps({"uscc": u}) for u in self.excluded],
            }
        # The values come from replayed, rule-checked bodies: encode, no profile check.
        return {
            **({"pool": [m.leaf() for m in self.pool]} if pool else {}),
            "roster": [dumps(c.to_json()) for c in self.roster],
            "conflicts": [dumps({"cert_no": c, "kind": k, "uscc": u})
                          for (c, u), k in conflicts],
            "excluded": [dumps({"uscc": u}) for u in self.excluded],
        }

    def strata_counts(self, batch: Mapping[str, Any]) -> dict[str, int]:
        counts = {str(s["id"]): 0 for s in batch["strata"]}
        for stratum, n in Counter(map(_STRATUM, self.pool)).items():
            counts[stratum] = counts.get(stratum, 0) + n
        return counts

    def summary(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """The commitment: each list's Merkle root (RFC 6962 over the canonical leaves) and
        size, the strata populations and the sample sizes the plan gives them."""
        out: dict[str, Any] = {"pool": {"root": root_of_leaf_hashes(
            pool_leaf_hashes(self.pool, self.key)).hex(), "size": len(self.pool)}}
        for name, leaves in self.leaves(pool=False).items():
            out[name] = {"root": merkle_root(leaves).hex(), "size": len(leaves)}
        counts = self.strata_counts(batch)
        out["pool"]["strata"] = counts
        out["pool"]["sample"] = sample_sizes(batch, counts)
        return out


def start_summary(snapshot: Snapshot, batch: Mapping[str, Any], background: bool
                  ) -> Callable[[], dict[str, Any]]:
    """``snapshot.summary(batch)``, computed in a forked child when ``background`` and the
    platform can fork, so a re-execution hashes the four lists on one core while it
    scores and matches on another; the returned function waits for it. The child gets
    the snapshot as it is now and sends back only the JSON summary; if it fails for any
    reason, the summary is computed here instead. The child only hashes and writes to
    its own pipe, so no lock another thread may hold at the fork (the audit's signature
    pool) is ever needed in it."""
    if not background or not hasattr(os, "fork"):
        summary = snapshot.summary(batch)
        return lambda: summary
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, whose coverage is not collected
        status = 1
        try:
            gc.disable()  # a collection would touch, and so copy, every shared page
            os.close(read)
            with os.fdopen(write, "wb") as out:
                out.write(json.dumps(snapshot.summary(batch)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    done: list[dict[str, Any]] = []

    def result() -> dict[str, Any]:
        if not done:
            with os.fdopen(read, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            summary = json.loads(data) if status == 0 and data else None
            done.append(summary if isinstance(summary, dict) else snapshot.summary(batch))
        return done[0]

    return result


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    return root_of_leaf_hashes([leaf_hash(leaf) for leaf in leaves])


def sample_sizes(batch: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, int]:
    return {str(s["id"]): sample_size(counts.get(str(s["id"]), 0), int(s["ratio_ppm"]),
                                      str(batch["rounding"]))
            for s in batch["strata"]}


@dataclass(slots=True)
class Outcome:
    """A draw's result: selected targets in processing (score) order with their teams,
    each stratum's cut-off score, and the targets no eligible team could be found for."""

    seed: bytes
    selected: list[tuple[str, str, bytes]]  # (uscc, stratum, score), ascending score
    cutoffs: dict[str, bytes]
    teams: dict[str, list[str]] = field(default_factory=dict)
    unfillable: dict[str, str] = field(default_factory=dict)  # uscc -> department short

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed.hex(),
            "selected": [{"uscc": u, "stratum": s, "score": sc.hex(),
                          "team": self.teams.get(u, [])} for u, s, sc in self.selected],
            "cutoffs": {k: v.hex() for k, v in sorted(self.cutoffs.items())},
            "unfillable": [{"uscc": u, "dept": d} for u, d in self.unfillable.items()],
        }


def public_outcome(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """A v2 execution's ``outcome`` (SPEC.md 21.5): each selected target's stratum and
    score leave the record (a stratum can be a risk class); their order, the teams, the
    seed, the cut-offs and the unfillable list stay."""
    out = dict(outcome)
    selected = outcome.get("selected")
    if type(selected) is list:
        out["selected"] = [{k: v for k, v in s.items() if k not in ("stratum", "score")}
                           if type(s) is dict else s for s in selected]
    return out


def select(seed: bytes, snapshot: Snapshot, sizes: Mapping[str, int]
           ) -> tuple[list[tuple[str, str, bytes]], dict[str, bytes]]:
    """Per stratum the n_h smallest scores (ties, never expected, by USCC); all selected
    in ascending score order, and each stratum's cut-off (its n_h-th score)."""
    chosen: list[tuple[bytes, str, str]] = []
    cutoffs: dict[str, bytes] = {}
    wanted = {stratum for stratum, n in sizes.items() if n > 0}
    members: dict[str, list[str]] = {stratum: [] for stratum in wanted}
    for m in snapshot.pool:
        if m.stratum in wanted:
            members[m.stratum].append(m.uscc)
    for stratum, n in sizes.items():
        usccs = members.get(stratum)
        if not usccs:
            continue
        best = heapq.nsmallest(n, _scores(seed, lp("T", stratum), usccs))
        cutoffs[stratum] = best[-1][0]
        chosen.extend((score, uscc, stratum) for score, uscc in best)
    chosen.sort()
    return [(uscc, stratum, score) for score, uscc, stratum in chosen], cutoffs


@dataclass(slots=True)
class Matcher:
    """The inspector rules of one batch: eligibility, ranking and the running loads."""

    seed: bytes
    snapshot: Snapshot
    team: Mapping[str, int]
    load_cap: int
    same_unit: bool
    draw_date: date
    units: dict[str, str | None] = field(default_factory=dict)  # uscc -> unit, as looked up
    by_dept: dict[str, list[Candidate]] = field(default_factory=dict)
    loads: dict[str, int] = field(default_factory=dict)
    # Per department, by 执法证号, those rules 1-3 (expert, qualified, valid) let through:
    # they hold for the whole batch, so the others are never ranked by staff().
    able: dict[str, dict[str, Candidate]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        day = self.draw_date.isoformat()
        for c in self.snapshot.roster:
            self.by_dept.setdefault(c.dept, []).append(c)
            people = self.able.setdefault(c.dept, {})
            if not c.expert and c.qualified and c.valid_from <= day <= c.valid_to:
                people[c.cert_no] = c

    def unit_of(self, uscc: str) -> str | None:
        """The target's unit, by bisection of the sorted pool (only a few are asked)."""
        if uscc not in self.units:
            pool = self.snapshot.pool
            i = bisect.bisect_left(pool, uscc, key=_USCC)
            self.units[uscc] = pool[i].unit if i < len(pool) and pool[i].uscc == uscc else None
        return self.units[uscc]

    def ranking(self, uscc: str, dept: str) -> list[Candidate]:
        people = {c.cert_no: c for c in self.by_dept.get(dept, [])}
        scored = sorted(_scores(self.seed, lp("I", uscc, dept), people))
        return [people[cert] for _, cert in scored]

    def _ranked(self, uscc: str, dept: str) -> Iterator[Candidate]:
        """The department's able members in rank order, lazily: scoring everyone is
        unavoidable, sorting everyone is not (a team needs the first few)."""
        people = self.able.get(dept, {})
        heap = _scores(self.seed, lp("I", uscc, dept), people)
        heapq.heapify(heap)
        while heap:
            yield people[heapq.heappop(heap)[1]]

    def ineligible(self, c: Candidate, uscc: str, team: Sequence[str] = (),
                   recused: Iterable[str] = ()) -> str | None:
        """The first rule that passes ``c`` over for ``uscc``, or None."""
        if c.expert:
            return "expert"
        if not c.qualified:
            return "unqualified"
        day = self.draw_date.isoformat()
        if not c.valid_from <= day <= c.valid_to:
            return "not_valid"
        kind = self.snapshot.conflicts.get((c.cert_no, uscc))
        if kind is not None:
            return kind
        if self.same_unit and c.unit == self.unit_of(uscc):
            return "same_unit"
        if c.cert_no in team:
            return "in_team"
        if c.cert_no in recused:
            return "recused"
        if self.loads.get(c.cert_no, 0) >= self.load_cap:
            return "load"
        return None

    def staff(self, uscc: str) -> tuple[list[str], str | None]:
        """The team for ``uscc`` (departments in code order, each its ranking's first
        eligible members), or ([], the department that cannot be staffed)."""
        team: list[str] = []
        for dept in sorted(self.team):
            need = self.team[dept]
            ranked = self._ranked(uscc, dept)
            while need:
                c = next(ranked, None)
                if c is None:
                    return [], dept
                if self.ineligible(c, uscc, team) is None:
                    team.append(c.cert_no)
                    need -= 1
        for cert in team:
            self.loads[cert] = self.loads.get(cert, 0) + 1
        return team, None

    def substitute(self, uscc: str, dept: str, team: Sequence[str],
                   recused: Iterable[str]) -> str | None:
        """The next eligible member of ``dept``'s ranking for ``uscc`` after a recusal."""
        recused = set(recused)
        for c in self.ranking(uscc, dept):
            if self.ineligible(c, uscc, team, recused) is None:
                return c.cert_no
        return None


def execute(seed: bytes, snapshot: Snapshot, batch: Mapping[str, Any], draw_date: date
            ) -> tuple[Outcome, Matcher]:
    """Select the targets and staff each one, in score order."""
    sizes = sample_sizes(batch, snapshot.strata_counts(batch))
    selected, cutoffs = select(seed, snapshot, sizes)
    conflicts = batch["conflicts"]
    matcher = Matcher(seed, snapshot, batch["team"], int(batch["load_cap"]),
                      bool(conflicts.get("same_unit")), draw_date)
    outcome = Outcome(seed, selected, cutoffs)
    for uscc, _, _ in selected:
        team, short = matcher.staff(uscc)
        if short is None:
            outcome.teams[uscc] = team
        else:
            outcome.unfillable[uscc] = short
    return outcome, matcher


def counterfactual(seed: bytes, snapshot: Snapshot, batch: Mapping[str, Any], uscc: str,
                   stratum: str) -> bool:
    """Had ``uscc`` stayed in ``stratum`` of this pool, would it have been drawn?"""
    ratio = next(int(s["ratio_ppm"]) for s in batch["strata"] if s["id"] == stratum)
    scores = [score for score, _ in _scores(seed, lp("T", stratum),
                                            (m.uscc for m in snapshot.pool
                                             if m.stratum == stratum and m.uscc != uscc))]
    n = sample_size(len(scores) + 1, ratio, str(batch["rounding"]))
    mine = target_score(seed, stratum, uscc)
    return sum(1 for s in scores if s < mine) < n
