"""The portal's read model: what the public pages and ``/v1/entities`` show, built once
from the log and then kept up to date entry by entry.

Only whitelisted body fields (``api._whitelist``) reach the records below. The verdicts
(plan filed on time, result entered and published within its working days) come from the
verifier's own rules (``PlanTracker``, ``ResultAuditor``) fed the same entries in the same
order as the audit, over a small replay state without the registries; that state is
internal and never shown. A company's pool membership per draw needs the registries as
they stood at the commitment: it is rebuilt in one replay per batch of new commitments
(``ledger._draws.snapshots_at``) and kept, packed, keyed by the commitment's seq.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api._whitelist import public_body
from ledger import Ledger
from ledger._app import own_entry
from ledger._draws import snapshots_at
from verifier import Trust
from verifier._deadlines import PlanTracker
from verifier._errors import VerifierError
from verifier._note import parse_note, verify_cosignatures
from verifier._receipt import inspection_due
from verifier._resultaudit import ResultAuditor
from verifier._results import OUTCOMES
from verifier._state import LogState

__all__ = ["Draw", "Inspection", "Membership", "Plan", "PortalData"]

# Entries the small replay state needs: none of the registries (a province holds millions).
_REGISTRY = ("target.", "inspector.", "conflict.")
ON_TIME, LATE, UNKNOWN, PENDING, MISSED = "on_time", "late", "unknown", "pending", "missed"


@dataclass
class Plan:
    plan_id: str
    year: int
    dept: str
    joint: list[str]
    title: str
    batches: list[tuple[str, str, str]]  # (batch_id, draw_date, matter)
    filed_seq: int
    filed: str  # entry times (Asia/Shanghai), "" until the step happened
    versions: int = 1
    received: str = ""
    received_on: str = ""
    published: str = ""
    url: str = ""
    verdict: dict[str, str] = field(default_factory=dict)  # step -> ON_TIME, LATE, UNKNOWN


@dataclass
class Draw:
    draw_id: str
    plan_id: str
    batch_id: str
    dept: str
    matter: str
    draw_date: str
    commit_seq: int
    committed: str
    draw_time: str
    chain: str
    round: int
    pool_root: str
    pool_size: int
    strata: dict[str, int]
    sample: dict[str, int]
    excluded_size: int
    parties: list[str]
    executed_seq: int | None = None
    executed: str = ""
    seed: str = ""
    cutoffs: dict[str, str] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)  # in processing order
    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)  # after substitutions
    unfillable: dict[str, str] = field(default_factory=dict)  # uscc -> short department
    substitutions: list[dict[str, Any]] = field(default_factory=list)
    voided: str = ""
    redraws: int = 0

    @property
    def status(self) -> str:
        return "voided" if self.voided else "executed" if self.executed else "committed"


@dataclass
class Inspection:
    inspection_id: str
    kind: str
    dept: str
    uscc: str
    ended_on: str
    inspectors: list[str]
    draw_id: str  # "" for a targeted inspection
    recorded: str = ""
    outcome: str = ""
    corrected: int = 0
    published: str = ""
    url: str = ""
    record_sha256: str = ""
    entry: str = ""  # verdict of the recording, once recorded
    publication: str = ""  # verdict of the publication, once published


class _Codes:
    """A sorted set of 18-character codes packed in one bytes object (a million-member
    pool is 18 MB, not a set of a million strings)."""

    def __init__(self, codes: Iterable[str]) -> None:
        items = sorted({c.encode() for c in codes if len(c.encode()) == 18})
        self._data = b"".join(items)
        self._n = len(items)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> bytes:
        return self._data[18 * i:18 * i + 18]

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        key = code.encode()
        i = bisect.bisect_left(self, key)
        return i < self._n and self[i] == key


@dataclass(frozen=True)
class Membership:
    """One draw's committed lists as rebuilt from the registries at the commitment:
    ``consistent`` when their sizes and strata match what the commitment states (the
    Merkle roots are the bundle check's, ``python -m verifier bundle``)."""

    pool: _Codes
    excluded: _Codes
    consistent: bool


def _time(raw_time: str) -> str:
    return raw_time[:19]


class PortalData:
    """The public read model over one log; ``refresh`` brings it to the log's head."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.size = 0
        self.origin = ""
        self.spec = 1  # SPEC v2 logs (section 21) serve their full bundles to auditors only
        self.policy: dict[str, Any] = {}
        self.departments: dict[str, str] = {}
        self.matters: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, list[Any]] = {}  # uscc -> [name, dept, removed]
        self.inspectors: dict[str, list[Any]] = {}  # cert_no -> [name, dept, removed]
        self.counts: dict[str, dict[str, int]] = {}  # dept -> {"targets", "inspectors"}
        self.plans: dict[str, Plan] = {}
        self.draws: dict[str, Draw] = {}
        self.inspections: dict[str, Inspection] = {}
        self.by_draw: dict[tuple[str, str], str] = {}  # (draw id, uscc) -> inspection
        self.targeted: dict[str, list[str]] = {}  # uscc -> targeted inspection ids
        self.memberships: dict[tuple[str, int], Membership] = {}
        self.witnessed: dict[int, int] = {}  # checkpoint size -> quorum cosignature time
        self._cosigned: list[tuple[int, dict[str, int]]] = []
        self._checkpoints: tuple[int, ...] = ()
        self._state = LogState(body_check=None)  # internal: never rendered
        self._plans = PlanTracker()
        self._results = ResultAuditor()

    # -- keeping up -----------------------------------------------------------------------
    def refresh(self, ledger: Ledger) -> int:
        """Read the entries written since the last call; returns the size now covered."""
        with self.lock:
            head = ledger.chain.head()[0]
            if head > self.size:
                for seq, raw in ledger.entries(self.size, head):
                    self._feed(seq, raw)
                    self.size = seq + 1
            self._checkpoint_times(ledger)
            return self.size

    def _feed(self, seq: int, raw: bytes) -> None:
        e = own_entry(raw)
        type_, body, time = e.type, e.body, e.time
        if not type_.startswith(_REGISTRY):
            self._state.apply(seq, e.stream, e.version, type_, e.actor, body, e.sig)
        public = public_body(type_, body)
        kind = type_.partition(".")[0]
        if type_ == "log.genesis":
            self.origin = str(public.get("origin", ""))
            self.spec = public["spec"] if type(public.get("spec")) is int else 1
            self.policy = dict(public.get("policy", {}))
        elif type_ == "department.registered":
            self.departments[str(public.get("code"))] = str(public.get("name"))
        elif kind == "matter" and type_ != "matter.withdrawn":
            self.matters[str(public.get("id"))] = {**self.matters.get(str(public.get("id")), {}),
                                                   **public}
        elif kind in ("target", "inspector"):
            self._registry(kind, type_, public)
        elif kind == "plan":
            self._plan(seq, type_, public, body, time)
        elif kind == "draw":
            self._draw(seq, type_, public, time)
        elif kind in ("inspection", "result"):
            self._inspection(seq, type_, public, body, time)

    def _registry(self, kind: str, type_: str, public: dict[str, Any]) -> None:
        book = self.targets if kind == "target" else self.inspectors
        key = str(public.get("uscc" if kind == "target" else "cert_no"))
        dept = str(public.get("dept"))
        count = self.counts.setdefault(dept, {"targets": 0, "inspectors": 0})
        row = book.get(key)
        if type_.endswith(".added"):
            book[key] = [str(public.get("name", "")), dept, False]
            count[kind + "s"] += 1
        elif row is not None and type_.endswith(".updated") and "name" in public:
            row[0] = str(public["name"])
        elif row is not None and type_.endswith(".removed") and not row[2]:
            row[2] = True
            count[kind + "s"] -= 1

    def _plan(self, seq: int, type_: str, public: dict[str, Any], body: dict[str, Any],
              time: str) -> None:
        plan_id = str(public.get("plan_id"))
        findings = self._plans.feed(seq, type_, body, time, self._state)
        verdict = (LATE if any(f.rule.endswith("_late") for f in findings)
                   else UNKNOWN if any(f.rule == "V2.calendar" for f in findings) else ON_TIME)
        plan = self.plans.get(plan_id)
        if type_ in ("plan.filed", "plan.amended"):
            batches = [(str(b.get("batch_id")), str(b.get("draw_date")), str(t.get("matter")))
                       for t in public.get("tasks", []) for b in t.get("batches", [])]
            year = public.get("year")
            if plan is None or type_ == "plan.filed":
                plan = self.plans[plan_id] = Plan(
                    plan_id, year if type(year) is int else 0, str(public.get("dept")),
                    list(public.get("joint", [])), str(public.get("title", "")), batches,
                    seq, _time(time), verdict={"filed": verdict})
            else:
                plan.batches, plan.versions = batches, plan.versions + 1
        elif plan is not None and type_ == "plan.received" and not plan.received:
            plan.received, plan.received_on = _time(time), str(public.get("received_on"))
            plan.verdict["received"] = LATE if plan.verdict["filed"] == LATE else verdict
        elif plan is not None and type_ == "plan.published" and not plan.published:
            plan.published, plan.url = _time(time), str(public.get("url"))
            plan.verdict["published"] = LATE if plan.verdict["filed"] == LATE else verdict

    def _draw(self, seq: int, type_: str, public: dict[str, Any], time: str) -> None:
        draw_id = f"{public.get('plan_id')}/{public.get('batch_id')}"
        info = self._state.draws.get(f"draw/{draw_id}")
        if type_ == "draw.committed":
            pool, beacon = public.get("pool", {}), public.get("beacon", {})
            self.draws[draw_id] = Draw(
                draw_id, str(public.get("plan_id")), str(public.get("batch_id")),
                str(public.get("dept")), info.matter if info else "",
                info.draw_date if info else "", seq, _time(time),
                str(public.get("draw_time", "")), str(beacon.get("chain", "")),
                int(beacon.get("round", 0)), str(pool.get("root", "")),
                int(pool.get("size", 0)), dict(pool.get("strata", {})),
                dict(pool.get("sample", {})), int(public.get("excluded", {}).get("size", 0)),
                [str(p.get("dept")) for p in public.get("parties", [])])
            return
        draw = self.draws.get(draw_id)
        if draw is None or info is None:
            return
        draw.teams = dict(info.teams)
        if type_ == "draw.executed" and draw.executed_seq is None:
            outcome = public.get("outcome", {})
            draw.executed_seq, draw.executed = seq, _time(time)
            draw.seed = str(outcome.get("seed", ""))
            draw.cutoffs = dict(outcome.get("cutoffs", {}))
            draw.selected = [str(s.get("uscc")) for s in outcome.get("selected", [])]
            draw.unfillable = {str(u.get("uscc")): str(u.get("dept"))
                               for u in outcome.get("unfillable", [])}
        elif type_ == "draw.executed":
            draw.redraws += 1
        elif type_ == "draw.substituted":
            draw.substitutions.append({"uscc": public.get("uscc"), "out": public.get("out"),
                                       "in": public.get("in"), "dept": public.get("dept"),
                                       "time": _time(time)})
        elif type_ == "draw.voided":
            draw.voided = _time(time)

    def _inspection(self, seq: int, type_: str, public: dict[str, Any], body: dict[str, Any],
                    time: str) -> None:
        stream = f"inspection/{public.get('inspection_id')}"
        findings = {f.rule for f in self._results.feed(seq, type_, body, time, self._state)}
        if type_ == "inspection.completed":
            kind = str(public.get("kind"))
            draw_id = f"{public.get('plan_id')}/{public.get('batch_id')}" \
                if kind == "random" else ""
            new = self.inspections[stream] = Inspection(
                str(public.get("inspection_id")), kind, str(public.get("dept")),
                str(public.get("uscc")), str(public.get("ended_on")),
                [str(c) for c in public.get("inspectors", [])], draw_id)
            if draw_id:
                self.by_draw[(draw_id, new.uscc)] = stream
            else:
                self.targeted.setdefault(new.uscc, []).append(stream)
            return
        row = self.inspections.get(stream)
        if row is None:
            return
        if type_ == "result.recorded" and not row.recorded:
            row.recorded, row.outcome = _time(time), str(public.get("outcome"))
            row.entry = (LATE if "V16.result_late" in findings
                         else UNKNOWN if "V16.calendar" in findings else ON_TIME)
        elif type_ == "result.corrected":
            row.outcome, row.corrected = str(public.get("outcome")), row.corrected + 1
        elif type_ == "result.published" and not row.published:
            row.published, row.url = _time(time), str(public.get("url"))
            row.record_sha256 = str(public.get("record_sha256"))
            row.publication = (LATE if "V17.publish_late" in findings
                               else UNKNOWN if "V17.calendar" in findings else ON_TIME)

    def _checkpoint_times(self, ledger: Ledger) -> None:
        """By when a quorum of the pinned witnesses had cosigned each published tree
        (SPEC 16.5, a checkpoint's witnessed time): the evidence for a commitment time."""
        published = ledger.published_checkpoints()
        sizes = tuple(size for size, _, _ in published)
        if sizes == self._checkpoints:
            return
        trust = ledger.trust()
        self._cosigned = []
        for size, _, note in published:
            try:
                times = verify_cosignatures(parse_note(note), list(trust.witnesses))
            except VerifierError:
                times = {}
            self._cosigned.append((size, times))
            if trust.quorum and len(times) >= trust.quorum:
                self.witnessed[size] = sorted(times.values())[trust.quorum - 1]
        self._checkpoints = sizes

    # -- questions --------------------------------------------------------------------------
    @property
    def checkpoints(self) -> tuple[int, ...]:
        """The sizes of the published checkpoints seen at the last refresh."""
        return self._checkpoints

    def latest_cosigned(self) -> tuple[int, dict[str, int]] | None:
        """The latest published tree size and who cosigned it when."""
        return self._cosigned[-1] if self._cosigned else None

    def commit_evidence(self, draw: Draw, trust: Trust) -> tuple[str, int | None]:
        """("witnessed", time) when a quorum cosigned a tree holding the commitment before
        its beacon round was due (SPEC 15.2), else ("claimed", that time or None)."""
        times = [t for size, t in self.witnessed.items() if size > draw.commit_seq]
        first = min(times) if times else None
        chain = trust.chains().get(draw.chain)
        if first is not None and chain is not None and draw.round >= 1 \
                and first < chain.round_time(draw.round):
            return "witnessed", first
        return "claimed", first

    def due(self, row: Inspection, today: date) -> dict[str, tuple[str, str]]:
        """(due date or "", verdict) of a result's ``entry`` and ``publication`` (SPEC
        16.3, the limits a receipt states): the verdict once done, else PENDING, or MISSED
        when ``today`` is past the limit; UNKNOWN where a calendar year is missing."""
        try:
            due = inspection_due(row.ended_on, self._state.policy, self._state.calendars)
        except ValueError:
            due = {"record_by": None, "publish_by": None}
        out = {}
        for step, done, verdict, by in (("entry", row.recorded, row.entry, due["record_by"]),
                                         ("publication", row.published, row.publication,
                                          due["publish_by"])):
            if not done:
                verdict = UNKNOWN if by is None else \
                    MISSED if today.isoformat() > by else PENDING
            out[step] = (by or "", verdict)
        return out

    def plan_missing(self, today: date) -> dict[str, set[str]]:
        """Plans whose deadline passed by ``today`` without a receipt or publication."""
        by_seq = {plan.filed_seq: plan.plan_id for plan in self.plans.values()}
        out: dict[str, set[str]] = {}
        for f in self._plans.finish(self._state, today.isoformat()):
            if f.seq in by_seq:  # V2.plan_not_received / V2.plan_not_published
                out.setdefault(by_seq[f.seq], set()).add(f.rule.rsplit("_", 1)[-1])
        return out

    def membership(self, ledger: Ledger, draw: Draw) -> Membership | None:
        """``draw``'s pool and exclusions, rebuilt once (with every other draw not yet
        rebuilt, in the same replay) and kept; None if the log cannot rebuild them."""
        key = (draw.draw_id, draw.commit_seq)
        if key not in self.memberships:
            self._memberships(ledger, [d for d in self.draws.values()
                                       if (d.draw_id, d.commit_seq) not in self.memberships])
        return self.memberships.get(key)

    def _memberships(self, ledger: Ledger, draws: list[Draw]) -> None:
        wanted = [(d.commit_seq, d.plan_id, d.batch_id) for d in draws]
        try:
            snapshots = snapshots_at(ledger, wanted)
        except (KeyError, VerifierError):  # a batch its plan lacks: one at a time
            for d in draws:
                try:
                    snapshots = snapshots_at(ledger, [(d.commit_seq, d.plan_id, d.batch_id)])
                except (KeyError, VerifierError):
                    continue
                self._keep_membership(d, snapshots[0])
            return
        for d, snapshot in zip(draws, snapshots, strict=True):
            self._keep_membership(d, snapshot)

    def _keep_membership(self, d: Draw, snapshot: Any) -> None:
        strata: dict[str, int] = {}
        for m in snapshot.pool:
            strata[m.stratum] = strata.get(m.stratum, 0) + 1
        consistent = (len(snapshot.pool) == d.pool_size
                      and len(snapshot.excluded) == d.excluded_size
                      and all(strata.get(s, 0) == n for s, n in d.strata.items()))
        self.memberships[(d.draw_id, d.commit_seq)] = Membership(
            _Codes(m.uscc for m in snapshot.pool), _Codes(snapshot.excluded), consistent)

    def bundle(self, draw: Draw) -> str | None:
        """Where anyone may download the draw's full bundle: nowhere on a v2 log, whose
        bundle holds every pool leaf in clear and goes to auditors only (SPEC 21.2)."""
        return f"/v1/draws/{draw.draw_id}/bundle" if self.spec < 2 else None

    def find_names(self, text: str, limit: int = 50) -> list[tuple[str, str]]:
        """(uscc, name) of the targets whose name contains ``text``, at most ``limit``."""
        out = []
        for uscc, (name, _, _) in self.targets.items():
            if text in name:
                out.append((uscc, name))
                if len(out) >= limit:
                    break
        return sorted(out, key=lambda x: x[1])

    # -- one company across every draw -------------------------------------------------------
    def person(self, cert_no: str) -> dict[str, str]:
        name, dept, _ = self.inspectors.get(cert_no, ["", "", False])
        return {"cert_no": cert_no, "name": str(name), "dept": str(dept)}

    def result(self, stream: str, today: date) -> tuple[dict[str, Any], dict[str, Any]]:
        """The result and the publication of one inspection, with their deadlines."""
        row = self.inspections[stream]
        due = self.due(row, today)
        (entry_due, entry), (pub_due, pub) = due["entry"], due["publication"]
        zh, en = OUTCOMES.get(row.outcome, ("", ""))
        result = {"inspection_id": row.inspection_id, "kind": row.kind, "dept": row.dept,
                  "ended_on": row.ended_on,
                  "inspectors": [self.person(c) for c in row.inspectors],
                  "outcome": row.outcome or None, "outcome_zh": zh, "outcome_en": en,
                  "recorded": row.recorded or None, "due": entry_due or None,
                  "deadline": entry, "corrections": row.corrected}
        publication = {"published": row.published or None, "url": row.url or None,
                       "record_sha256": row.record_sha256 or None, "due": pub_due or None,
                       "deadline": pub}
        return result, publication

    def entity(self, ledger: Ledger, uscc: str, today: date,
               proof: Callable[[Draw, str], str | None]) -> dict[str, Any]:
        """Every draw whose committed pool held ``uscc`` (or excluded it): drawn or not,
        its team, the result and its publication (``GET /v1/entities/{uscc}``)."""
        name, dept, removed = self.targets.get(uscc, [None, None, False])
        draws = []
        for draw in sorted(self.draws.values(), key=lambda d: d.commit_seq):
            member = self.membership(ledger, draw)
            in_pool = None if member is None else uscc in member.pool
            excluded = None if member is None else uscc in member.excluded
            drawn = uscc in draw.teams if draw.executed else None
            if not (in_pool or excluded or drawn):
                continue
            stream = self.by_draw.get((draw.draw_id, uscc))
            result, publication = (self.result(stream, today) if stream
                                   else (None, None))
            draws.append({
                "draw": draw.draw_id, "plan_id": draw.plan_id, "batch_id": draw.batch_id,
                "dept": draw.dept, "matter": draw.matter,
                "matter_name": self.matters.get(draw.matter, {}).get("name"),
                "draw_date": draw.draw_date, "status": draw.status,
                "in_pool": in_pool, "excluded": excluded, "drawn": drawn,
                "unfillable": uscc in draw.unfillable,
                "pool_consistent": None if member is None else member.consistent,
                "team": [self.person(c) for c in draw.teams.get(uscc, ())],
                "substitutions": [{"out": self.person(str(s["out"])),
                                   "in": self.person(str(s["in"])) if s["in"] else None}
                                  for s in draw.substitutions if s["uscc"] == uscc],
                "result": result, "publication": publication,
                "proof": proof(draw, uscc), "bundle": self.bundle(draw)})
        targeted = [dict(zip(("result", "publication"), self.result(s, today),
                             strict=True)) for s in self.targeted.get(uscc, [])]
        return {"uscc": uscc, "name": name, "registered": name is not None,
                "removed": bool(removed), "dept": dept, "draws_examined": len(self.draws),
                "draws": draws, "targeted": targeted}
