"""Draw fairness in the audit replay (RULES-RESEARCH V4-V13; SPEC.md section 14.11).

``DrawAuditor.feed`` sees every registry and draw entry in log order, after the replay
state has applied it. At a commitment it rebuilds the snapshot from the replayed
registries and compares the roots (V4), checks the beacon round against the plan's draw
time and the commitment's time against the round (V4, V5) and the sample sizes (V7). At
the execution it verifies the randomness evidence (V5, V6), recomputes the seed, the
selection and the matching byte for byte (V8, V12), and answers the counterfactual for
registry churn in the freeze window before the commitment (V4.churn). Substitutions must
take the next eligible inspector of the same ranking (V10-V12). Voids are counted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from verifier._beacon import Beacon, Chain, verify_beacon
from verifier._draw import (
    INELIGIBLE,
    TARGET_FIELDS,
    Matcher,
    Outcome,
    Snapshot,
    counterfactual,
    draw_seed,
    execute,
    matches,
    pool_rule,
    public_outcome,
    reveal_commitment,
    sample_sizes,
    start_summary,
    stratum_of,
)
from verifier._rfc3797 import key_string
from verifier._sealed import SPEC_V2
from verifier._snapshot import add_declared_conflicts, build_snapshot
from verifier._state import INTEGRITY, UNVERIFIABLE, VIOLATION, Finding, LogState
from verifier._stats import YearStats

__all__ = ["DEFAULT_FREEZE_DAYS", "DrawAuditor", "draw_time", "redraw_finding",
           "resolve_chain"]

DEFAULT_FREEZE_DAYS = 10
_SHANGHAI = timezone(timedelta(hours=8))
_HHMM = re.compile(r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
ALIASES = {"drand-quicknet": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
           "loe-quicknet": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
           "loe-default": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
           "drand-default": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce"}


def draw_time(batch: dict[str, Any]) -> datetime:
    """T of a batch: its draw date at ``draw_time`` (default 10:00), Asia/Shanghai."""
    hhmm = batch.get("draw_time", "10:00")
    if type(hhmm) is not str or not _HHMM.match(hhmm):
        hhmm = "10:00"
    day = date.fromisoformat(str(batch["draw_date"]))
    return datetime(day.year, day.month, day.day, int(hhmm[:2]), int(hhmm[3:]),
                    tzinfo=_SHANGHAI)


def resolve_chain(recipe: Any, chains: dict[str, Chain]) -> Chain | None:
    """The chain a plan's recipe names (a chain hash or a known alias), if trusted."""
    name = ALIASES.get(str(recipe), str(recipe))
    return chains.get(name)


def _epoch(log_time: str) -> float:
    return datetime.fromisoformat(log_time).timestamp()


@dataclass
class _Pending:
    """A committed batch, followed to its execution and substitutions."""

    stream: str
    dept: str
    matter: str
    batch: dict[str, Any]
    commit_seq: int
    commit_hash: bytes
    commit: dict[str, Any]
    snapshot: Snapshot | None
    churn: list[tuple[int, str, tuple[str, ...]]]
    reveals: dict[str, bytes] = field(default_factory=dict)
    outcome: Outcome | None = None
    matcher: Matcher | None = None
    executed_seq: int | None = None
    teams: dict[str, list[str]] = field(default_factory=dict)
    recused: dict[str, set[str]] = field(default_factory=dict)
    unfillable_seen: dict[str, int] = field(default_factory=dict)
    verified: bool = False  # recomputed byte for byte
    summary: Callable[[], dict[str, Any]] | None = None  # the replayed lists' commitment
    sealed: bool = False  # a v2 draw: sealed leaves, public outcome (SPEC.md 21)


@dataclass
class DrawStats:
    committed: int = 0
    executed: int = 0
    verified: int = 0
    voided: dict[str, int] = field(default_factory=dict)
    substituted: dict[str, int] = field(default_factory=dict)
    redraws: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"committed": self.committed, "executed": self.executed,
                "verified": self.verified, "voided": self.voided,
                "substituted": self.substituted, "redraws": self.redraws}


class DrawAuditor:
    """Follows the draws of one log through the audit."""

    def __init__(self, chains: dict[str, Chain], freeze_days: int = DEFAULT_FREEZE_DAYS,
                 beacons: bool = True, background: bool = False) -> None:
        """``background``: hash each commitment's lists in a forked child while the replay
        goes on (``start_summary``), and report V4.snapshot and V7 once the draw has been
        recomputed (or at the end)."""
        self.chains = chains
        self.background = background
        self.freeze_days = freeze_days
        self.beacons = beacons
        self.pending: dict[str, _Pending] = {}
        # uscc -> (seq, epoch, fields before the change) of its last update or removal
        self.changes: dict[str, tuple[int, float, tuple[str, ...]]] = {}
        self.stats = DrawStats()
        # Snapshots given rather than rebuilt (a bundle carries the committed lists).
        self.snapshots: dict[str, Snapshot] = {}
        # More checks of a commitment against its lists' summary (the bundle's own).
        self.compare: Callable[[int, dict[str, Any], dict[str, Any]], list[Finding]] | None \
            = None
        self.year = YearStats()
        # False for the audit of a v2 log without the openings (SPEC.md 21.6): the
        # snapshots cannot be rebuilt, so only the checks that need none are made.
        self.opened = True

    # -- registry churn -----------------------------------------------------------------
    def before(self, seq: int, type_: str, body: dict[str, Any], time: str,
               state: LogState) -> None:
        """Call before the state applies a target change: remember the fields it had."""
        if type_ in ("target.updated", "target.removed"):
            old = state.targets.get(str(body.get("uscc")))
            if old is not None:
                self.changes[str(body.get("uscc"))] = (seq, _epoch(time), old)

    def feed(self, seq: int, type_: str, body: dict[str, Any], time: str, entry_hash: bytes,
             state: LogState) -> list[Finding]:
        """Call after the state applied a ``draw.*`` entry."""
        stream = f"draw/{body.get('plan_id')}/{body.get('batch_id')}"
        verb = type_.partition(".")[2]
        if verb == "committed":
            return self._committed(seq, stream, body, time, entry_hash, state)
        pending = self.pending.get(stream)
        if pending is None:
            return []
        if verb == "revealed":
            return self._revealed(seq, pending, body)
        if verb == "executed":
            return self._executed(seq, pending, body, state)
        if verb == "unfillable":
            pending.unfillable_seen[str(body.get("uscc"))] = seq
            return []
        if verb == "substituted":
            if pending.snapshot is None:  # sealed, unopened: the teams' rules are internal
                self.stats.substituted[pending.dept] = \
                    self.stats.substituted.get(pending.dept, 0) + 1
                return []
            if pending.snapshot is not None:
                add_declared_conflicts(pending.snapshot, state, pending.batch)
            return self._substituted(seq, pending, body)
        if verb == "voided":
            self.stats.voided[pending.dept] = self.stats.voided.get(pending.dept, 0) + 1
        return []

    # -- commitment ---------------------------------------------------------------------
    def _committed(self, seq: int, stream: str, body: dict[str, Any], time: str,
                   entry_hash: bytes, state: LogState) -> list[Finding]:
        self.stats.committed += 1
        plan = state.plans.get(str(body.get("plan_id")))
        found = plan.batch(str(body.get("batch_id"))) if plan else None
        if plan is None or found is None:
            return []  # the body rules already reported it
        task, batch = found
        out: list[Finding] = []
        who = f"{body.get('plan_id')}/{body.get('batch_id')}"
        if not plan.published:
            out.append(_v("V2.plan_unpublished", seq,
                          f"批次 {who} 承诺抽取时所属计划尚未公开",
                          f"batch {who} was committed before its plan was published"))
        matter = str(task.get("matter"))
        sealed = state.spec >= SPEC_V2
        snapshot: Snapshot | None = None
        if not sealed or self.opened:
            snapshot = self.snapshots.get(stream) or build_snapshot(state, stream, matter,
                                                                    batch)
            if sealed:
                snapshot.key = snapshot_key(body)
        previous = self.pending.get(stream)
        if previous is not None:
            out.extend(self._settle(previous))
        pending = _Pending(stream, str(body.get("dept")), matter, batch, seq, entry_hash, body,
                           snapshot, [])
        pending.sealed = sealed
        if snapshot is not None:
            pending.summary = start_summary(snapshot, batch, self.background)
            if not self.background:
                out.extend(self._settle(pending))
            pending.churn = self._churn(batch, snapshot, _epoch(time))
        else:
            out.extend(_public_sample(seq, who, body, batch))
        out.extend(self._round(seq, who, body, batch, time))
        self.pending[stream] = pending
        return out

    def _settle(self, pending: _Pending) -> list[Finding]:
        """Compare the commitment with the replayed lists (V4.snapshot, V7): at the
        commitment, or with ``background`` once the execution has been recomputed."""
        if pending.summary is None:
            return []
        summary, pending.summary = pending.summary(), None
        body, seq = pending.commit, pending.commit_seq
        who = f"{body.get('plan_id')}/{body.get('batch_id')}"
        out = self.compare(seq, body, summary) if self.compare is not None else []
        for name, zh in (("pool", "检查对象池"), ("roster", "执法人员名单"),
                         ("conflicts", "回避清单"), ("excluded", "排除名单")):
            claimed = body.get(name)
            mine = summary[name]
            keys = ("root", "size", "strata") if name == "pool" else ("root", "size")
            if type(claimed) is not dict or any(claimed.get(k) != mine[k] for k in keys):
                out.append(_v("V4.snapshot", seq,
                              f"批次 {who} 承诺的{zh}与重放名录库所得不符",
                              f"batch {who}: the committed {name} differs from the replayed "
                              "registries"))
        pool = body.get("pool")
        if type(pool) is dict and pool.get("sample") != summary["pool"]["sample"]:
            out.append(_v("V7.sample_size", seq,
                          f"批次 {who} 的各层抽取数量 {pool.get('sample')} 与计划比例和取整规则"
                          f"所得 {summary['pool']['sample']} 不符",
                          f"batch {who}: sample sizes {pool.get('sample')} differ from the "
                          f"plan's ratios and rounding, {summary['pool']['sample']}"))
        return out

    def _round(self, seq: int, who: str, body: dict[str, Any], batch: dict[str, Any],
               time: str) -> list[Finding]:
        recipe = batch.get("randomness", {})
        beacon = body.get("beacon")
        if type(beacon) is not dict:
            return []
        chain = resolve_chain(recipe.get("beacon"), self.chains)
        if chain is None or beacon.get("chain") != chain.chain_hash:
            return [Finding("V5.chain", UNVERIFIABLE if chain is None else VIOLATION, seq,
                            f"批次 {who} 的随机信标链不在信任策略中或与计划不符",
                            f"batch {who}: the beacon chain is not trusted or not the one "
                            "the plan names")]
        out = []
        t_draw = int(draw_time(batch).timestamp())
        expected = chain.round_at(t_draw)
        if beacon.get("round") != expected:
            out.append(_v("V5.round", seq,
                          f"批次 {who} 承诺的信标轮次 {beacon.get('round')} 不是抽取时间之后的"
                          f"第一轮 {expected}",
                          f"batch {who}: committed beacon round {beacon.get('round')} is not "
                          f"the first round at or after the draw time, {expected}"))
        if body.get("draw_time") != draw_time(batch).isoformat():
            out.append(_v("V5.round", seq, f"批次 {who} 的抽取时间与计划不符",
                          f"batch {who}: draw_time differs from the plan's"))
        if _epoch(time) >= chain.round_time(expected):
            due = datetime.fromtimestamp(chain.round_time(expected), _SHANGHAI).isoformat()
            out.append(replace(_v("V4.commit_late", seq,
                                  f"批次 {who} 的承诺写入时间不早于信标第 {expected} 轮的发布时间",
                                  f"batch {who} was committed no earlier than beacon round "
                                  f"{expected} was published"), due=due))
        return out

    def _churn(self, batch: dict[str, Any], snapshot: Snapshot, now: float
               ) -> list[tuple[int, str, tuple[str, ...]]]:
        """Targets changed within the freeze window whose former fields put them in a
        stratum of this pool, and who are not there now in that stratum."""
        start = now - self.freeze_days * 86400
        where = {m.uscc: m.stratum for m in snapshot.pool}
        rule = pool_rule(batch)
        out = []
        for uscc, (seq, when, old) in self.changes.items():
            if when < start:
                continue
            view = dict(zip(TARGET_FIELDS, old, strict=False))
            stratum = stratum_of(batch, view) if matches(rule, view) else None
            if stratum is not None and where.get(uscc) != stratum:
                out.append((seq, uscc, old))
        return out

    # -- reveals and execution ----------------------------------------------------------
    def _revealed(self, seq: int, pending: _Pending, body: dict[str, Any]) -> list[Finding]:
        dept = str(body.get("dept"))
        secret = str(body.get("secret"))
        parties = {str(p.get("dept")): str(p.get("commitment"))
                   for p in pending.commit.get("parties", []) if type(p) is dict}
        who = f"{pending.commit.get('plan_id')}/{pending.commit.get('batch_id')}"
        if pending.executed_seq is not None:
            return [_v("V6.late", seq, f"{dept} 在批次 {who} 抽取之后才揭示承诺值",
                       f"{dept} revealed its secret for batch {who} after the draw")]
        try:
            raw = bytes.fromhex(secret)
        except ValueError:
            raw = b""
        if dept not in parties or reveal_commitment(
                str(pending.commit.get("plan_id")), str(pending.commit.get("batch_id")), dept,
                raw) != parties[dept]:
            return [_v("V6.mismatch", seq, f"{dept} 揭示的值与其在批次 {who} 的承诺不符",
                       f"{dept}'s revealed secret does not match its commitment for {who}")]
        pending.reveals.setdefault(dept, raw)
        return []

    def _executed(self, seq: int, pending: _Pending, body: dict[str, Any],
                  state: LogState) -> list[Finding]:
        who = f"{pending.commit.get('plan_id')}/{pending.commit.get('batch_id')}"
        self.stats.executed += 1
        if pending.executed_seq is not None:
            self.stats.redraws += 1
            return [_redraw(seq, who, pending.executed_seq)]
        pending.executed_seq = seq
        out: list[Finding] = []
        if body.get("commit_seq") != pending.commit_seq:
            out.append(_v("V8.commit", seq, f"批次 {who} 的抽取未引用其承诺条目",
                          f"batch {who}: the execution does not cite its commitment"))
        randomness, findings = self._beacon(seq, who, pending, body)
        out.extend(findings)
        lottery = body.get("lottery")
        lottery_key = ""
        if type(lottery) is dict:
            lottery_key = str(lottery.get("key_string", ""))
            numbers = lottery.get("numbers", [])
            try:
                recomputed = key_string(numbers) if numbers else ""
            except (ValueError, TypeError):
                recomputed = None
            if recomputed != lottery_key:
                out.append(_v("V5.lottery", seq, f"批次 {who} 的彩票开奖号码与密钥串不符",
                              f"batch {who}: the lottery key string does not encode the "
                              "numbers"))
        reveals: list[tuple[str, bytes | None]] = []
        claimed = {str(r.get("dept")): r.get("secret") for r in body.get("reveals", [])
                   if type(r) is dict}
        for party in pending.commit.get("parties", []):
            dept = str(party.get("dept")) if type(party) is dict else ""
            secret = pending.reveals.get(dept)
            reveals.append((dept, secret))
            if secret is None:
                out.append(_v("V6.unrevealed", seq, f"{dept} 未在批次 {who} 抽取前揭示承诺值",
                              f"{dept} did not reveal its secret before batch {who} was "
                              "drawn"))
            if claimed.get(dept) != (secret.hex() if secret is not None else None):
                out.append(_v("V6.mismatch", seq,
                              f"批次 {who} 记录的 {dept} 揭示值与日志中的揭示不符",
                              f"batch {who}: the recorded reveal of {dept} differs from the "
                              "log's"))
        if randomness is None:
            return out
        seed = draw_seed(str(pending.commit.get("plan_id")), str(pending.commit.get("batch_id")),
                         pending.commit_hash, randomness, lottery_key, reveals)
        theirs: dict[str, Any] = body["outcome"] if type(body.get("outcome")) is dict else {}
        if pending.snapshot is None:
            # A sealed draw without its openings: the seed is public, the rest is not.
            if theirs.get("seed") != seed.hex():
                out.append(_v("V8.seed", seq, f"批次 {who} 的种子与重算结果不符",
                              f"batch {who}: the seed differs from the recomputed seed"))
            return out
        draw_day = date.fromisoformat(str(pending.batch["draw_date"]))
        outcome, matcher = execute(seed, pending.snapshot, pending.batch, draw_day)
        rewritten = None
        if theirs.get("seed") != outcome.seed.hex() and not any(
                f.kind == VIOLATION for f in out):
            rewritten = _own_seed_outcome(theirs, pending.snapshot, pending.batch, draw_day,
                                          pending.sealed)
        if rewritten is not None:
            # The department's record is consistent with its own seed, and every other
            # input matches the log: the commitment entry's hash changed under it.
            out.append(_history(pending.commit_seq, who, seq))
            (outcome, matcher), seed = rewritten, rewritten[0].seed
        pending.outcome, pending.matcher = outcome, matcher
        out.extend(self._settle(pending))
        counts = pending.snapshot.strata_counts(pending.batch)
        self.year.add(pending.snapshot, sample_sizes(pending.batch, counts), outcome,
                      {c.cert_no: c.dept for c in pending.snapshot.roster})
        pending.teams = {u: list(t) for u, t in outcome.teams.items()}
        mine = public_outcome(outcome.to_json()) if pending.sealed else outcome.to_json()
        if rewritten is not None:
            pass  # reported at the commitment; the department drew what its seed says
        elif theirs.get("seed") != mine["seed"]:
            out.append(_v("V8.seed", seq, f"批次 {who} 的种子与重算结果不符",
                          f"batch {who}: the seed differs from the recomputed seed"))
        picked = [(s["uscc"], s.get("stratum"), s.get("score")) for s in mine["selected"]]
        theirs_sel: list[Any] = (theirs["selected"] if type(theirs.get("selected")) is list
                                 else [])
        if [(s.get("uscc"), s.get("stratum"), s.get("score")) for s in theirs_sel
                if type(s) is dict] != picked or theirs.get("cutoffs") != mine["cutoffs"]:
            out.append(_v("V8.selection", seq, f"批次 {who} 的抽取结果与重算结果不符",
                          f"batch {who}: the selected targets differ from the recomputation"))
        elif [s.get("team") for s in theirs_sel] != [s["team"] for s in mine["selected"]] \
                or theirs.get("unfillable") != mine["unfillable"]:
            out.append(_v("V12.matching", seq, f"批次 {who} 的人员匹配与重算结果不符",
                          f"batch {who}: the inspector matching differs from the "
                          "recomputation"))
        else:
            self.stats.verified += 1
            pending.verified = True
        for churn_seq, uscc, old in pending.churn:
            view = dict(zip(TARGET_FIELDS, old, strict=False))
            stratum = stratum_of(pending.batch, view)
            if stratum is not None and counterfactual(seed, pending.snapshot, pending.batch,
                                                      uscc, stratum):
                out.append(_v("V4.churn", churn_seq, dept=old[0].partition("/")[0], zh=
                              f"对象 {uscc} 在批次 {who} 承诺前 {self.freeze_days} 天内被移出或改变"
                              f"分层；若未变动，它本会在第 {stratum} 层被抽中",
                              en=f"entity {uscc} was removed or reclassified within "
                              f"{self.freeze_days} days before batch {who} was committed; "
                              f"had it not been, it would have been drawn in stratum "
                              f"{stratum}"))
        self._keep_selected(pending)
        return out

    @staticmethod
    def _keep_selected(pending: _Pending) -> None:
        """After the execution and the churn check only the drawn targets matter (for
        substitutions): drop the rest of the pool, which can be large."""
        snapshot, outcome = pending.snapshot, pending.outcome
        if snapshot is None or outcome is None:
            return
        drawn = {uscc for uscc, _, _ in outcome.selected}
        keep = Snapshot([m for m in snapshot.pool if m.uscc in drawn], snapshot.roster,
                        snapshot.conflicts, snapshot.excluded, snapshot.key)
        pending.snapshot = keep
        if pending.matcher is not None:
            pending.matcher.snapshot = keep

    def _beacon(self, seq: int, who: str, pending: _Pending, body: dict[str, Any]
                ) -> tuple[bytes | None, list[Finding]]:
        committed = pending.commit.get("beacon")
        beacon = body.get("beacon")
        if type(committed) is not dict or type(beacon) is not dict:
            return None, [_v("V5.beacon", seq, f"批次 {who} 缺少信标证据",
                             f"batch {who}: beacon evidence is missing")]
        chain = self.chains.get(str(committed.get("chain")))
        if beacon.get("chain") != committed.get("chain") \
                or beacon.get("round") != committed.get("round"):
            return None, [_v("V5.round", seq, f"批次 {who} 使用的信标轮次不是承诺的轮次",
                             f"batch {who}: the beacon round used is not the committed one")]
        try:
            signature = bytes.fromhex(str(beacon.get("signature")))
            previous = beacon.get("previous_signature")
            prev = bytes.fromhex(previous) if type(previous) is str else None
        except ValueError:
            return None, [_v("V5.beacon", seq, f"批次 {who} 的信标签名不是十六进制",
                             f"batch {who}: the beacon signature is not hex")]
        randomness = hashlib.sha256(signature).digest()
        out: list[Finding] = []
        if beacon.get("randomness") != randomness.hex():
            out.append(_v("V5.beacon", seq, f"批次 {who} 的信标随机数不是签名的 SHA-256",
                          f"batch {who}: the beacon randomness is not SHA-256 of the "
                          "signature"))
        if chain is None:
            out.append(Finding("V5.chain", UNVERIFIABLE, seq,
                               f"批次 {who} 的信标链不在信任策略中，无法核验",
                               f"batch {who}: the beacon chain is not in the trust policy"))
            return randomness, out
        if not self.beacons:
            return randomness, out
        verdict = verify_beacon(chain, Beacon(int(beacon.get("round", 0)), signature, prev))
        if verdict == "unverifiable":
            out.append(Finding("V5.beacon", UNVERIFIABLE, seq,
                               f"批次 {who} 的信标签名无法核验（缺少 BLS 验证库 "
                               "py_arkworks_bls12381：重新安装 pip install drawledger）",
                               f"batch {who}: the beacon signature cannot be checked (the BLS "
                               "library py_arkworks_bls12381 is missing: reinstall with pip "
                               "install drawledger)"))
        elif verdict != "ok":
            out.append(_v("V5.beacon", seq, f"批次 {who} 的信标签名无效",
                          f"batch {who}: the beacon signature does not verify for chain "
                          f"{chain.name}"))
        return randomness, out

    # -- after the draw -----------------------------------------------------------------
    def _substituted(self, seq: int, pending: _Pending, body: dict[str, Any]) -> list[Finding]:
        uscc, out_cert, new = str(body.get("uscc")), str(body.get("out")), body.get("in")
        who = f"{pending.commit.get('plan_id')}/{pending.commit.get('batch_id')}"
        self.stats.substituted[pending.dept] = self.stats.substituted.get(pending.dept, 0) + 1
        matcher = pending.matcher
        team = pending.teams.get(uscc)
        if matcher is None or team is None or out_cert not in team:
            return [_v("V12.substitution", seq,
                       f"批次 {who}：{out_cert} 不在对象 {uscc} 的检查组中，不能替换",
                       f"batch {who}: {out_cert} is not on {uscc}'s team, so cannot be "
                       "substituted")]
        recused = pending.recused.setdefault(uscc, set())
        recused.add(out_cert)
        remaining = [c for c in team if c != out_cert]
        by_cert = {c.cert_no: c for c in matcher.snapshot.roster}
        leaving = by_cert.get(out_cert)
        matcher.loads[out_cert] = max(0, matcher.loads.get(out_cert, 0) - 1)
        if type(new) is not str:
            pending.teams[uscc] = remaining
            need = matcher.team.get(leaving.dept if leaving else "", 0)
            return [_v("V10.team", seq,
                       f"批次 {who}：对象 {uscc} 的检查组替换后只剩 {len(remaining)} 名执法人员，"
                       f"少于计划要求的 {need} 名",
                       f"batch {who}: {uscc}'s team is left with {len(remaining)} "
                       f"inspectors, fewer than the {need} the plan requires")]
        candidate = by_cert.get(new)
        out: list[Finding] = []
        reason = (matcher.ineligible(candidate, uscc, remaining, recused)
                  if candidate is not None else "roster")
        if reason is not None:
            rule = {"declared": "V11.conflict", "prior": "V11.conflict",
                    "same_unit": "V11.conflict"}.get(reason, "V10.team")
            zh, en = INELIGIBLE.get(reason, ("不在承诺的执法人员名单中",
                                             "not on the committed roster"))
            out.append(_v(rule, seq, f"批次 {who}：替补 {new} 不符合条件（{zh}）",
                          f"batch {who}: substitute {new} is not eligible ({en})"))
        elif leaving is not None and new != matcher.substitute(uscc, leaving.dept, remaining,
                                                               recused):
            out.append(_v("V12.substitution", seq,
                          f"批次 {who}：替补 {new} 不是同一排序中的下一名合格人员",
                          f"batch {who}: substitute {new} is not the next eligible inspector "
                          "of the same ranking"))
        matcher.loads[new] = matcher.loads.get(new, 0) + 1
        pending.teams[uscc] = [new if c == out_cert else c for c in team]
        return out

    def finish(self, state: LogState, now_time: str, *, every_batch: bool = True
               ) -> list[Finding]:
        """Batches not drawn by ``now_time`` (the audit's now, SPEC.md 9.2), unfillable
        targets left unrecorded (``every_batch=False``: only the batches seen, as for a
        bundle)."""
        out: list[Finding] = []
        now = _epoch(now_time) if now_time else None
        for pending in self.pending.values():
            out.extend(self._settle(pending))
            who = f"{pending.commit.get('plan_id')}/{pending.commit.get('batch_id')}"
            if pending.outcome is not None:
                expected = set(pending.outcome.unfillable)
                if set(pending.unfillable_seen) != expected:
                    out.append(_v("V12.unfillable", pending.executed_seq,
                                  f"批次 {who} 记录的无法配齐检查组的对象与重算结果不符",
                                  f"batch {who}: the draw.unfillable records differ from the "
                                  "recomputation"))
            elif pending.executed_seq is None and now is not None and \
                    now > draw_time(pending.batch).timestamp() + 86400:
                out.append(_v("V8.not_executed", pending.commit_seq,
                              f"批次 {who} 已承诺但过了抽取日仍未抽取",
                              f"batch {who} was committed but not drawn by the day after its "
                              "draw date"))
        if now is None or not every_batch:
            return out
        for plan_id, plan in state.plans.items():
            if not plan.published:
                continue
            for task in plan.body.get("tasks", []):
                for batch in task.get("batches", []) if type(task) is dict else []:
                    stream = f"draw/{plan_id}/{batch.get('batch_id')}"
                    try:
                        due = draw_time(batch).timestamp() + 86400
                    except (ValueError, KeyError):
                        continue
                    if stream not in state.draws and now > due:
                        out.append(_v("V8.not_drawn", plan.seq,
                                      f"计划 {plan_id} 的批次 {batch.get('batch_id')} 过了抽取日"
                                      "仍未抽取",
                                      f"batch {batch.get('batch_id')} of plan {plan_id} was not "
                                      "drawn by the day after its draw date"))
        return out


def _v(rule: str, seq: int | None, zh: str, en: str, dept: str | None = None) -> Finding:
    return Finding(rule, VIOLATION, seq, zh, en, dept=dept)


def _redraw(seq: int, who: str, first: int) -> Finding:
    return _v("V8.redraw", seq, f"批次 {who} 已于第 {first} 条抽取，此处再次抽取（重抽）",
              f"batch {who} was already drawn at entry {first}; this is a re-draw")


def redraw_finding(state: LogState, seq: int, type_: str, body: dict[str, Any]
                   ) -> Finding | None:
    """V8.redraw for a ``draw.executed`` at ``seq`` of a batch the replayed state has
    seen executed at another entry: what the log refuses to write (SPEC.md 14.1) and the
    audit reports (14.11), by the same words."""
    if type_ != "draw.executed":
        return None
    info = state.draws.get(f"draw/{body.get('plan_id')}/{body.get('batch_id')}")
    if info is None or info.executed_seq is None or info.executed_seq == seq:
        return None
    return _redraw(seq, f"{body.get('plan_id')}/{body.get('batch_id')}", info.executed_seq)


def _public_sample(seq: int, who: str, body: dict[str, Any], batch: dict[str, Any]
                   ) -> list[Finding]:
    """V7 from the committed populations alone (a sealed draw audited without openings):
    the sample sizes must follow from the plan's ratios and rounding."""
    pool = body.get("pool")
    if type(pool) is not dict:
        return []
    counts = pool.get("strata")
    if type(counts) is not dict or not all(type(n) is int for n in counts.values()):
        return []
    expected = sample_sizes(batch, counts)
    if pool.get("sample") == expected:
        return []
    return [_v("V7.sample_size", seq,
               f"批次 {who} 的各层抽取数量 {pool.get('sample')} 与计划比例和取整规则所得 "
               f"{expected} 不符",
               f"batch {who}: sample sizes {pool.get('sample')} differ from the plan's "
               f"ratios and rounding, {expected}")]


def snapshot_key(body: dict[str, Any]) -> bytes | None:
    """The 32-byte snapshot key of an opened v2 ``draw.committed`` (None if it has none)."""
    key = body.get("snapshot_key")
    if type(key) is not str or len(key) != 64:
        return None
    try:
        return bytes.fromhex(key)
    except ValueError:
        return None


def _own_seed_outcome(theirs: dict[str, Any], snapshot: Snapshot, batch: dict[str, Any],
                      draw_day: date, sealed: bool = False) -> tuple[Outcome, Matcher] | None:
    """The draw recomputed from the execution's own recorded seed, when it reproduces the
    recorded outcome byte for byte (else None: the department's draw is wrong)."""
    try:
        seed = bytes.fromhex(str(theirs.get("seed")))
    except ValueError:
        return None
    if len(seed) != 32:
        return None
    outcome, matcher = execute(seed, snapshot, batch, draw_day)
    mine = public_outcome(outcome.to_json()) if sealed else outcome.to_json()
    return (outcome, matcher) if mine == theirs else None


def _history(commit_seq: int, who: str, exec_seq: int) -> Finding:
    return Finding("V8.history", INTEGRITY, commit_seq,
                   f"批次 {who} 的抽取（第 {exec_seq} 条，部门签名有效）与其记录的种子完全一致，"
                   f"其信标、彩票和揭示值也与日志相符，但该种子已不能由日志中现存的第 {commit_seq} "
                   f"条承诺条目得出：承诺之下（第 0..{commit_seq} 条）的日志在抽取之后被改写并重新"
                   "签名，这不是抽取部门不公，而是持有日志密钥者改动了历史",
                   f"batch {who}: the execution (entry {exec_seq}, validly signed by the "
                   "department) recomputes exactly from its recorded seed, and its beacon, "
                   "lottery and reveals match the log, yet that seed no longer follows from "
                   f"commitment entry {commit_seq} as the log now holds it: the log under the "
                   f"commitment (entries 0..{commit_seq}) was rewritten and re-signed after the "
                   "draw. This is not an unfair draw by the department but a changed history "
                   "(the log key holder's doing)")

