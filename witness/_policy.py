"""The witness's log policy: which logs it serves, by origin, and their keys (SPEC.md 7.6).

The file is the ``log`` lines of a C2SP tlog-policy file, ``log <vkey> [<url>]``; the
vkey's key name is the log's origin (a drawledger log key is named after its origin).
``witness``, ``group`` and ``quorum`` lines are the log's readers' business: accepted and
ignored, so one policy file can serve both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from verifier import FormatError, NoteVerifier
from verifier._note import ED25519_TYPE
from witness._errors import WitnessError

__all__ = ["LogPolicy", "load_log_policy", "parse_log_policy"]

_MAX_POLICY_BYTES = 1 << 20
_IGNORED = ("witness", "group", "quorum")


@dataclass(frozen=True)
class LogPolicy:
    """origin -> the log keys trusted for it."""

    logs: dict[str, tuple[NoteVerifier, ...]]


def parse_log_policy(text: str, where: str = "log policy") -> LogPolicy:
    """Parse the policy; WitnessError names the line at fault."""
    logs: dict[str, list[NoteVerifier]] = {}
    seen: set[bytes] = set()
    for lineno, raw in enumerate(text.split("\n"), 1):
        words = raw.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue
        at = f"{where} 第 {lineno} 行 / line {lineno}"
        if words[0] in _IGNORED:
            continue
        if words[0] != "log" or len(words) not in (2, 3):
            raise WitnessError(f"{at}：应为 log <vkey> [<url>] / expected log <vkey> [<url>], "
                               f"got {raw.strip()[:60]!r}")
        try:
            key = NoteVerifier.from_vkey(words[1])
        except FormatError as exc:
            raise WitnessError(f"{at}：公钥格式错误 / bad vkey: {exc}") from None
        if key.sigtype != ED25519_TYPE:
            raise WitnessError(f"{at}：日志公钥须为签名类型 1 / a log key has sigtype 1, "
                               f"not {key.sigtype}")
        if key.public_key in seen:
            raise WitnessError(f"{at}：重复的日志公钥 / duplicate log key")
        seen.add(key.public_key)
        logs.setdefault(key.name, []).append(key)
    if not logs:
        raise WitnessError(f"{where}：没有 log 行，本见证无日志可联署 / no log line: this "
                           "witness would serve no log")
    return LogPolicy({origin: tuple(keys) for origin, keys in logs.items()})


def load_log_policy(path: Path) -> LogPolicy:
    """Read and parse the policy file at ``path``."""
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(_MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise WitnessError(f"日志策略文件 {path} 无法读取 / log policy {path} cannot be "
                           f"read ({exc.strerror})") from None
    if len(raw) > _MAX_POLICY_BYTES:
        raise WitnessError(f"日志策略文件 {path} 过大 / log policy {path} is over 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessError(f"日志策略文件 {path} 不是 UTF-8 / log policy {path} is not "
                           "UTF-8") from None
    return parse_log_policy(text, str(path))
