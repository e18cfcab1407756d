"""Signed statements as departments and the authority submit them (SPEC.md section 4).

The signer names its key and picks a unique statement id; the log adds only position,
time and chain, so it can neither forge nor alter what a department said.
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger._errors import InputError, KeyFileError
from verifier import FormatError, NoteSigner, check_state, statement_bytes

__all__ = ["Submission", "load_key", "save_key", "sign_statement"]


@dataclass(frozen=True)
class Submission:
    """A statement for one stream: what the department said and its signature."""

    stream: str
    type: str
    actor: str
    body: dict[str, Any]
    sig: dict[str, str]

    @classmethod
    def from_json(cls, obj: Any, where: str = "statement") -> Submission:
        """Validate a submitted JSON object, naming the field at fault."""
        if not isinstance(obj, dict) or set(obj) != {"stream", "type", "actor", "body", "sig"}:
            raise InputError(f"{where}: must be an object with exactly stream, type, actor, "
                             "body, sig")
        if not isinstance(obj["stream"], str) or not obj["stream"]:
            raise InputError(f"{where}.stream: not a non-empty string")
        state = {k: obj[k] for k in ("actor", "body", "sig", "type")}
        try:
            check_state(state)
        except FormatError as exc:
            raise InputError(f"{where}: {exc}") from None
        return cls(obj["stream"], obj["type"], obj["actor"], obj["body"], obj["sig"])

    def to_json(self) -> dict[str, Any]:
        return {"stream": self.stream, "type": self.type, "actor": self.actor,
                "body": self.body, "sig": self.sig}


def sign_statement(signer: NoteSigner, type_: str, stream: str, actor: str,
                   body: dict[str, Any], *, sid: str | None = None,
                   now: datetime | None = None) -> Submission:
    """Sign a statement with ``signer``; ``now`` is the client time recorded in it."""
    ctime = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    ctime = ctime.replace("+00:00", "Z")
    sig = {"ctime": ctime, "key": signer.name, "sid": sid or uuid.uuid4().hex, "value": ""}
    sig["value"] = base64.b64encode(
        signer.sign(statement_bytes(type_, stream, actor, body, sig))).decode()
    submission = Submission(stream, type_, actor, body, sig)
    Submission.from_json(submission.to_json())  # fail here, not in the log
    return submission


def save_key(path: Path, signer: NoteSigner) -> None:
    """Write a secret key file (C2SP skey text), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(signer.skey + "\n")


def load_key(path: Path) -> NoteSigner:
    """Read a secret key file written by ``save_key``."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise KeyFileError(f"key file {path}: {exc.strerror}") from None
    try:
        return NoteSigner.from_skey(text)
    except FormatError as exc:
        raise KeyFileError(f"key file {path}: {exc}") from None
