"""Signed requests for internal data (SPEC.md 21.8): how a registered auditor key asks the
log for the openings and the auditor bundles, which no anonymous caller gets.

A request is the canonical JSON of ``{ctime, key, sid, what, ...}`` and ``sig``, the
base64 Ed25519 signature over ``"drawledger/auditor-request/v1\\n"`` and the canonical
JSON of the other members. The prefix keeps a request from ever verifying as a statement
(``drawledger/statement/v1``) or anything else the key could sign. The log accepts it
once (the key and ``sid``), within five minutes of its own clock.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from verifier._canonical import canonical, decode_json, decode_text
from verifier._errors import FormatError
from verifier._note import ED25519_TYPE, NoteSigner, NoteVerifier

__all__ = ["REQUEST_PREFIX", "REQUEST_WINDOW", "WHATS", "AuditorRequest", "parse_request",
           "sign_request"]

REQUEST_PREFIX = b"drawledger/auditor-request/v1\n"
REQUEST_WINDOW = timedelta(minutes=5)
# what -> the further members it takes (name -> type)
WHATS: dict[str, dict[str, type]] = {
    "openings": {"from": int},  # openings.jsonl lines of entries with seq >= from
    "bundle": {"draw": str},  # the auditor bundle of one draw (plan_id/batch_id)
}
_SID = re.compile(r"[0-9A-Za-z_.-]{8,64}\Z")
_CTIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


@dataclass(frozen=True)
class AuditorRequest:
    """A parsed request; ``message`` is what ``sig`` must verify over."""

    key: str
    sid: str
    ctime: datetime
    what: str
    params: dict[str, Any]
    signature: bytes
    message: bytes

    def verify(self, verifier: NoteVerifier) -> bool:
        return verifier.name == self.key and verifier.verify(self.message, self.signature)

    def fresh(self, now: datetime) -> bool:
        return abs(now - self.ctime) <= REQUEST_WINDOW


def _message(fields: dict[str, Any]) -> bytes:
    return REQUEST_PREFIX + canonical(fields)


def sign_request(signer: NoteSigner, what: str, params: dict[str, Any],
                 now: datetime | None = None) -> bytes:
    """A request file's bytes, signed by the auditor's key."""
    if signer.sigtype != ED25519_TYPE:
        raise FormatError(f"key {signer.name}: a witness key cannot sign requests")
    ctime = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = {"ctime": ctime, "key": signer.name, "sid": uuid.uuid4().hex, "what": what,
              **params}
    sig = base64.b64encode(signer.sign(_message(fields))).decode()
    data = canonical({**fields, "sig": sig})
    parse_request(data)  # fail here, not at the log
    return data


def parse_request(data: bytes) -> AuditorRequest:
    """Check a request's form, naming the member at fault (FormatError)."""
    obj = decode_json(decode_text(data))
    if type(obj) is not dict:
        raise FormatError("request: not a JSON object")
    what = obj.get("what")
    if what not in WHATS:
        raise FormatError(f"request.what: one of {sorted(WHATS)}")
    params = WHATS[str(what)]
    expected = {"ctime", "key", "sid", "what", "sig", *params}
    if set(obj) != expected:
        raise FormatError(f"request: needs exactly {sorted(expected)}")
    for name in ("ctime", "key", "sid", "sig"):
        if type(obj[name]) is not str:
            raise FormatError(f"request.{name}: not a string")
    for name, kind in params.items():
        if type(obj[name]) is not kind or (kind is int and obj[name] < 0):
            wanted = "non-negative integer" if kind is int else "string"
            raise FormatError(f"request.{name}: not a {wanted}")
    if not _SID.match(obj["sid"]):
        raise FormatError("request.sid: 8-64 characters of [0-9A-Za-z_.-]")
    if not _CTIME.match(obj["ctime"]):
        raise FormatError("request.ctime: YYYY-MM-DDThh:mm:ssZ")
    try:
        ctime = datetime.strptime(obj["ctime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        signature = base64.b64decode(obj["sig"], validate=True)
    except (ValueError, binascii.Error):
        raise FormatError("request.ctime or request.sig: not a real time / not base64") from None
    if len(signature) != 64 or base64.b64encode(signature).decode() != obj["sig"]:
        raise FormatError("request.sig: not the canonical base64 of a 64-byte signature")
    fields = {k: v for k, v in obj.items() if k != "sig"}
    return AuditorRequest(obj["key"], obj["sid"], ctime, str(what),
                          {k: obj[k] for k in params}, signature, _message(fields))
