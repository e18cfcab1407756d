"""Signed statements as parties make them, offline (SPEC.md sections 4 and 4.2).

The signer names its key and picks a unique statement id; the log adds only position,
time and chain, so it can neither forge nor alter what a party said. These objects are
what a party hands to the log (a statement file, ``POST /v1/statements``), so they live in
the verifier: a department's client signs with them without the ledger.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verifier._canonical import decode_json, decode_text
from verifier._entry import batch_message, check_state, statement_bytes
from verifier._errors import FormatError
from verifier._note import COSIGNATURE_TYPE, ED25519_TYPE, NoteSigner, NoteVerifier
from verifier._sealed import Opening, SealError, parse_opening, seal_body

__all__ = ["BATCH_SUBMISSION_FORMAT", "DEFAULT_POLICY", "BatchSubmission", "Submission",
           "check_origin", "genesis_body", "parse_statement_file", "sign_batch", "sign_statement"]

BATCH_SUBMISSION_FORMAT = "drawledger/batch-submission/v1"
# Policy defaults from the district notice (川政发〔2019〕7号) and RULES-RESEARCH R1-R9.
DEFAULT_POLICY: dict[str, Any] = {
    "plan_filing_deadline": "01-31",
    "result_entry_working_days": 3,
    "publication_working_days": 20,
    "min_team_size": 2,
    "timezone": "Asia/Shanghai",
}
_STATEMENT_FIELDS = {"stream", "type", "actor", "body", "sig"}


def _ctime(now: datetime | None) -> str:
    ctime = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return ctime.replace("+00:00", "Z")


def _state(where: str, type_: Any, actor: Any, body: Any, sig: Any) -> None:
    """``check_state`` with the error named from ``where`` (``statement.body.x``)."""
    try:
        check_state({"actor": actor, "body": body, "sig": sig, "type": type_})
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None


def _opening(obj: Any, where: str) -> Opening:
    try:
        return parse_opening(obj)
    except SealError as exc:
        raise FormatError(f"{where}: {exc.en}") from None


@dataclass(frozen=True)
class Submission:
    """A statement for one stream: what the party said and its signature, and (SPEC.md
    21) the opening of its sealed fields, which goes to the log's internal store only."""

    stream: str
    type: str
    actor: str
    body: dict[str, Any]
    sig: dict[str, str]
    opening: Opening | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str = "statement") -> Submission:
        """Validate a submitted JSON object, naming the field at fault (FormatError)."""
        if not isinstance(obj, dict) or not set(obj) >= _STATEMENT_FIELDS \
                or not set(obj) <= _STATEMENT_FIELDS | {"opening"}:
            raise FormatError(f"{where}: must be an object with exactly stream, type, actor, "
                              "body, sig (and opening, for sealed fields)")
        if not isinstance(obj["stream"], str) or not obj["stream"]:
            raise FormatError(f"{where}.stream: not a non-empty string")
        _state(where, obj["type"], obj["actor"], obj["body"], obj["sig"])
        opening = _opening(obj["opening"], f"{where}.opening") if "opening" in obj else None
        return cls(obj["stream"], obj["type"], obj["actor"], obj["body"], obj["sig"], opening)

    def to_json(self) -> dict[str, Any]:
        out = {"stream": self.stream, "type": self.type, "actor": self.actor,
               "body": self.body, "sig": self.sig}
        if self.opening is not None:
            out["opening"] = self.opening.to_json()
        return out

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers (SPEC.md section 4)."""
        return statement_bytes(self.type, self.stream, self.actor, self.body, self.sig)


def _statement_key(signer: NoteSigner) -> None:
    if signer.sigtype != ED25519_TYPE:
        raise FormatError(f"key {signer.name}: a witness cosignature key (sigtype "
                          f"{signer.sigtype}) cannot sign statements")


def sign_statement(signer: NoteSigner, type_: str, stream: str, actor: str,
                   body: dict[str, Any], *, sid: str | None = None,
                   now: datetime | None = None, seal: bool = False) -> Submission:
    """Sign a statement with ``signer``; ``now`` is the client time recorded in it.
    ``seal`` (a v2 log, SPEC.md 21): the type's internal fields are sealed first, and the
    submission carries their opening."""
    _statement_key(signer)
    opening = None
    if seal:
        body, opening = seal_body(type_, stream, body)
    sig = {"ctime": _ctime(now), "key": signer.name, "sid": sid or uuid.uuid4().hex,
           "value": ""}
    sig["value"] = base64.b64encode(
        signer.sign(statement_bytes(type_, stream, actor, body, sig))).decode()
    submission = Submission(stream, type_, actor, body, sig, opening)
    Submission.from_json(submission.to_json())  # fail here, not in the log
    return submission


@dataclass(frozen=True)
class BatchSubmission:
    """A batch statement (SPEC.md section 4.2) as submitted: the individually signed
    ``import.recorded`` head, then members that share one signature.

    Members carry only type, stream and body: the actor is the head's, the sid
    ``batch/<head.body.batch>/<i>/<n>`` and key, ctime and value are ``sig``'s, so the
    file cannot disagree with itself.
    """

    head: Submission
    members: tuple[tuple[str, str, dict[str, Any]], ...]
    sig: dict[str, str]
    openings: tuple[Opening | None, ...] = ()  # per member, when sealed (SPEC.md 21)

    @property
    def batch_id(self) -> str:
        return str(self.head.body["batch"])

    def statements(self) -> list[Submission]:
        """The head and every member as the statements the log stores, in order."""
        n = len(self.members)
        out = [self.head]
        for i, (type_, stream, body) in enumerate(self.members):
            sig = {"ctime": self.sig["ctime"], "key": self.sig["key"],
                   "sid": f"batch/{self.batch_id}/{i}/{n}", "value": self.sig["value"]}
            opening = self.openings[i] if i < len(self.openings) else None
            out.append(Submission(stream, type_, self.head.actor, body, sig, opening))
        return out

    def message(self) -> bytes:
        """What the shared signature signs: ``batch_message`` over the members' digests."""
        digests = b"".join(hashlib.sha256(s.signed_bytes()).digest()
                           for s in self.statements()[1:])
        return batch_message(self.sig["key"], self.batch_id, self.sig["ctime"],
                             len(self.members), hashlib.sha256(digests).digest())

    def verify(self, key: NoteVerifier) -> bool:
        """Whether both the head's and the members' signatures are ``key``'s."""
        return (key.name == self.sig["key"] == self.head.sig["key"]
                and key.verify(self.head.signed_bytes(), base64.b64decode(self.head.sig["value"]))
                and key.verify(self.message(), base64.b64decode(self.sig["value"])))

    def to_json(self) -> dict[str, Any]:
        members = []
        for i, (t, s, b) in enumerate(self.members):
            member: dict[str, Any] = {"type": t, "stream": s, "body": b}
            opening = self.openings[i] if i < len(self.openings) else None
            if opening is not None:
                member["opening"] = opening.to_json()
            members.append(member)
        return {"format": BATCH_SUBMISSION_FORMAT, "head": self.head.to_json(),
                "members": members, "sig": dict(self.sig)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "batch") -> BatchSubmission:
        """Validate a batch submission, naming the field at fault (FormatError)."""
        if not isinstance(obj, dict) or set(obj) != {"format", "head", "members", "sig"}:
            raise FormatError(f"{where}: must be an object with exactly format, head, "
                              "members, sig")
        if obj["format"] != BATCH_SUBMISSION_FORMAT:
            raise FormatError(f"{where}.format: not {BATCH_SUBMISSION_FORMAT!r}")
        head = Submission.from_json(obj["head"], f"{where}.head")
        if head.type != "import.recorded":
            raise FormatError(f"{where}.head.type: a batch is announced by import.recorded, "
                              f"not {head.type!r}")
        batch_id = head.body.get("batch")
        if type(batch_id) is not str or not batch_id or "/" in batch_id:
            raise FormatError(f"{where}.head.body.batch: not a non-empty batch id without '/'")
        members = obj["members"]
        if type(members) is not list or not members:
            raise FormatError(f"{where}.members: not a non-empty list")
        if head.body.get("rows") != len(members) or type(head.body.get("rows")) is not int:
            raise FormatError(f"{where}.head.body.rows: must equal the number of members "
                              f"({len(members)})")
        sig = obj["sig"]
        if type(sig) is not dict or set(sig) != {"key", "ctime", "value"}:
            raise FormatError(f"{where}.sig: must be an object with exactly key, ctime, value")
        if sig["key"] != head.sig["key"]:
            raise FormatError(f"{where}.sig.key: the members must be signed by the head's "
                              f"key {head.sig['key']!r}")
        kept: list[tuple[str, str, dict[str, Any]]] = []
        openings: list[Opening | None] = []
        for i, member in enumerate(members):
            at = f"{where}.members[{i}]"
            if type(member) is not dict or not {"type", "stream", "body"} <= set(member) \
                    or not set(member) <= {"type", "stream", "body", "opening"}:
                raise FormatError(f"{at}: must be an object with exactly type, stream, body "
                                  "(and opening, for sealed fields)")
            openings.append(_opening(member["opening"], f"{at}.opening")
                            if "opening" in member else None)
            if type(member["stream"]) is not str or not member["stream"]:
                raise FormatError(f"{at}.stream: not a non-empty string")
            full = {**sig, "sid": f"batch/{batch_id}/{i}/{len(members)}"}
            _state(at, member["type"], head.actor, member["body"], full)
            kept.append((member["type"], member["stream"], member["body"]))
        return cls(head, tuple(kept), dict(sig),
                   tuple(openings) if any(o is not None for o in openings) else ())


def sign_batch(signer: NoteSigner, head_body: dict[str, Any],
               members: list[tuple[str, str, dict[str, Any]]], *,
               now: datetime | None = None, seal: bool = False) -> BatchSubmission:
    """Sign an import: the ``import.recorded`` head (``head_body`` holds ``kind``, ``dept``,
    ``file_sha256``, ``file_name``; ``rows`` and ``batch`` are filled in) and its members
    ``(type, stream, body)`` under one batch signature."""
    _statement_key(signer)
    dept = head_body.get("dept")
    if type(dept) is not str or not dept:
        raise FormatError("head.body.dept: not a non-empty string")
    body = {**head_body, "rows": len(members)}
    body.setdefault("batch", uuid.uuid4().hex)
    ctime = _ctime(now)
    openings: tuple[Opening | None, ...] = ()
    if seal:
        sealed = [(t, s, *seal_body(t, s, b)) for t, s, b in members]
        members = [(t, s, b) for t, s, b, _ in sealed]
        openings = tuple(o for _, _, _, o in sealed)
    head = sign_statement(signer, "import.recorded",
                          f"import/{dept}/{head_body.get('file_sha256')}", dept, body, now=now)
    unsigned = BatchSubmission(head, tuple(members), {"key": signer.name, "ctime": ctime,
                                                      "value": ""}, openings)
    value = base64.b64encode(signer.sign(unsigned.message())).decode()
    batch = BatchSubmission(head, tuple(members), {**unsigned.sig, "value": value}, openings)
    return BatchSubmission.from_json(batch.to_json())  # fail here, not in the log


def parse_statement_file(data: bytes, where: str = "statement") -> Submission | BatchSubmission:
    """A statement file (one statement object, or one batch submission when it names the
    batch format), as ``drawledger submit`` and ``POST /v1/statements`` take it; integers
    bounded and floats refused before any field is looked at (FormatError)."""
    try:
        obj = decode_json(decode_text(data))
    except FormatError as exc:
        raise FormatError(f"{where}: not a JSON statement ({exc})") from None
    if isinstance(obj, dict) and "format" in obj:
        return BatchSubmission.from_json(obj, where)
    return Submission.from_json(obj, where)


def _vkey(text: Any, where: str, sigtype: int) -> NoteVerifier:
    try:
        key = NoteVerifier.from_vkey(text) if type(text) is str else None
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    if key is None:
        raise FormatError(f"{where}: not a vkey string")
    if key.sigtype != sigtype:
        raise FormatError(f"{where}: sigtype {key.sigtype}, expected {sigtype}")
    return key


def check_origin(origin: Any) -> str:
    """A log origin is also the log key's name (SPEC.md 5.1, 5.2): non-empty, no space,
    '+' or newline."""
    if type(origin) is not str or not origin or any(c in origin for c in " \n+"):
        raise FormatError("origin: a non-empty name without spaces, '+' or newlines")
    return origin


def genesis_body(origin: str, log_vkey: str, authority_vkeys: list[str],
                 witness_vkeys: list[str], quorum: int,
                 policy: dict[str, Any] | None = None,
                 beacons: list[dict[str, Any]] | None = None, spec: int = 1) -> dict[str, Any]:
    """The ``log.genesis`` body (SPEC.md 6.1) an authority signs offline from the vkeys it
    was handed: checked here (each vkey parses with its sigtype, the log key is named after
    the origin, a quorum the witnesses can meet) so a mistake is found before the log
    exists rather than after, when the genesis can never be changed."""
    check_origin(origin)
    log_key = _vkey(log_vkey, "log_key", ED25519_TYPE)
    if log_key.name != origin:
        raise FormatError(f"log_key: named {log_key.name!r}, but the log key is named after "
                          f"the origin {origin!r}")
    if not authority_vkeys:
        raise FormatError("authority_keys: at least one authority key")
    for i, text in enumerate(authority_vkeys):
        _vkey(text, f"authority_keys[{i}]", ED25519_TYPE)
    for i, text in enumerate(witness_vkeys):
        _vkey(text, f"witnesses[{i}]", COSIGNATURE_TYPE)
    if type(quorum) is not int or not 0 <= quorum <= len(witness_vkeys):
        raise FormatError(f"quorum: an integer from 0 to the number of witnesses "
                          f"({len(witness_vkeys)})")
    body: dict[str, Any] = {"origin": origin, "log_key": log_vkey,
                            "authority_keys": list(authority_vkeys),
                            "witnesses": list(witness_vkeys), "quorum": quorum,
                            "policy": dict(DEFAULT_POLICY if policy is None else policy)}
    if beacons:
        body["beacons"] = list(beacons)
    if spec not in (1, 2):
        raise FormatError("spec: 1 or 2 (SPEC.md 12, 21)")
    if spec == 2:
        body["spec"] = 2  # internal fields sealed (SPEC.md 21)
    return body
