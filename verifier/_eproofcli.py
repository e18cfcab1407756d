"""``python -m verifier entity-proof FILE [--trust T] [--draw ID] [--json]`` (SPEC.md 22).

Prints each step (通过 / 失败 and why, Chinese first) and the entity's fate; exits as the
bundle check does (SPEC.md 9.3). A file that is not an entity proof, an unreadable one
or a bad trust file is a usage error (64); a damaged proof is integrity (2), never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from verifier._entityproof import FORMAT, MAX_BYTES, NotAnEntityProof, verify_entity_proof
from verifier._errors import VerifierError
from verifier._trust import Trust, load_trust
from verifier._version import version_info

__all__ = ["add_entity_proof_parser", "run_entity_proof"]

_VERDICT = {
    "drawn": ("被抽中：得分不高于其分层的分界", "drawn: its score is at or below its stratum's "
              "cut-off"),
    "not_drawn": ("未被抽中：得分高于其分层的分界（或该层不抽取）", "not drawn: its score is above "
                  "its stratum's cut-off (or the stratum draws no one)"),
    "depends_on_internal_field": (
        "取决于内部字段：各候选分层的结论不同（分层依据不公开的信用风险分类）",
        "depends on an internal field: the candidate strata disagree (the strata read the "
        "risk class, which is not public)"),
    "not_in_pool": ("不在已承诺的检查对象池中，故未被抽中", "not in the committed pool, hence not "
                    "drawn"),
    "excluded": ("在排除期内（近期已被检查），不进入检查对象池", "excluded by the exclusion "
                 "window (inspected recently), not in the pool"),
}
_EXIT = {0: ("验证通过", "verified"), 1: ("证明完整，但抽取违反了规则：结论如实反映日志所记",
                                          "intact, but the draw broke a rule: the answer is what "
                                          "the log holds"),
         2: ("验证失败：证明被篡改或损坏，不能据此作答", "failed: the proof is tampered or "
             "corrupt, no answer rests on it"),
         3: ("无法完全验证：结论取决于未能核验的输入", "unverifiable: the answer holds only if "
             "what could not be checked is genuine")}


def add_entity_proof_parser(sub: Any) -> None:
    p = sub.add_parser("entity-proof", help="check one entity's compact proof for one draw")
    p.add_argument("file", help=f"the proof ({FORMAT})")
    p.add_argument("--trust", help="trust.json to pin (default: the file's own, reported)")
    p.add_argument("--draw", help="the draw the proof must be for (plan_id/batch_id)")
    p.add_argument("--json", action="store_true")


class UsageError(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _read(name: str, limit: int | None = None) -> bytes:
    try:
        with open(name, "rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except OSError as exc:
        raise UsageError(f"无法读取 {name}：{exc}", f"cannot read {name}: {exc}") from None


def run_entity_proof(args: argparse.Namespace) -> int:
    """The command; UsageError for exit 64 (the caller prints it)."""
    trust: Trust | None = None
    if args.trust:
        try:
            trust = load_trust(_read(args.trust))
        except VerifierError as exc:
            raise UsageError(f"信任策略无效：{exc}", f"bad trust policy: {exc}") from None
    if Path(args.file).is_dir():
        raise UsageError(f"{args.file} 是目录，不是实体证明（{FORMAT}）",
                         f"{args.file} is a directory, not an entity proof ({FORMAT})")
    data = _read(args.file, MAX_BYTES + 1)  # one byte more shows it is over the limit
    try:
        result = verify_entity_proof(data, trust, expect_draw=args.draw)
    except NotAnEntityProof:
        raise UsageError(f"{args.file} 不是实体证明（其中没有 {FORMAT}）",
                         f"{args.file} is not an entity proof (it does not name {FORMAT})"
                         ) from None
    code = result.exit_code
    if args.json:
        json.dump({**result.to_json(), "verifier": version_info()}, sys.stdout,
                  ensure_ascii=False, indent=1)
        print()
        return code
    print(f"实体证明 / entity proof: {result.draw or '-'} {result.uscc or '-'}")
    if result.trust_source == "file":
        print("注意：未用 --trust 固定信任策略，使用了文件自带的密钥 / note: no --trust given, the "
              "file's own keys were used")
    for step in result.steps:
        mark = "通过 / passed" if step["ok"] else f"失败 / failed [{step['kind']}]"
        print(f"  {step['step']}: {mark}" + ("" if step["ok"] else
                                              f"\n    {step['zh']}\n    {step['en']}"))
    answer = result.answer
    if answer is not None:
        zh, en = _VERDICT[answer["verdict"]]
        print(f"结论 / answer: {zh} / {en}")
        for c in answer["candidates"]:
            print(f"  分层 / stratum {c['stratum']}: 得分 / score {c['score']}, 分界 / cut-off "
                  f"{c['cutoff'] or '-'}: {'抽中 / drawn' if c['drawn'] else '未抽中 / not drawn'}")
        if answer["team"] is not None:
            print(f"  检查组 / team: {', '.join(answer['team']) or '-'}"
                  + (" (无法组队 / unfillable)" if answer["unfillable"] else ""))
    zh, en = _EXIT[code]
    print(f"验证结论 / verdict: {zh} / {en} (exit {code})")
    return code

