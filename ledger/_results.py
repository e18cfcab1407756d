"""Inspections and results as departments append them (SPEC.md section 16).

Each function signs with the department's key and submits one statement; the log's rules
(``verifier._results``, ``LogState.check``) refuse a result for a target that was never
drawn, a department writing for another's inspection, a duplicate statement id or a key
of another department, and nothing is written then. A statement signed elsewhere (the
department's own client) goes in through ``drawledger submit`` or ``POST /v1/statements``.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from ledger._app import Ledger
from ledger._errors import InputError
from ledger._statements import sign_statement
from verifier import NoteSigner

__all__ = [
    "RESULT_TYPES",
    "complete_inspection",
    "correct_result",
    "inspection_id",
    "publish_result",
    "receive_lead",
    "record_result",
]

RESULT_TYPES = ("lead.received", "inspection.completed", "result.recorded",
                "result.corrected", "result.published")


def inspection_id(plan_id: str, batch_id: str, uscc: str) -> str:
    """The id of a random inspection: the drawn target in its batch."""
    return f"{plan_id}/{batch_id}/{uscc}"


def _submit(ledger: Ledger, signer: NoteSigner, type_: str, dept: str,
            body: dict[str, Any], now: datetime | None) -> int:
    stream = (f"lead/{dept}/{body['case_id']}" if type_ == "lead.received"
              else f"inspection/{body['inspection_id']}")
    return ledger.submit([sign_statement(signer, type_, stream, dept, body, now=now)])[0]


def complete_inspection(ledger: Ledger, signer: NoteSigner, dept: str, *, uscc: str,
                        ended_on: date, inspectors: list[str], plan_id: str | None = None,
                        batch_id: str | None = None, case_id: str | None = None,
                        now: datetime | None = None) -> int:
    """``inspection.completed``: random (a drawn target of plan/batch) or targeted (a
    lead's case id); ``inspectors`` are those who actually went."""
    body: dict[str, Any] = {"dept": dept, "uscc": uscc, "ended_on": ended_on.isoformat(),
                            "inspectors": list(inspectors)}
    if case_id is None:
        if plan_id is None or batch_id is None:
            raise InputError("a random inspection needs plan_id and batch_id")
        body.update(kind="random", plan_id=plan_id, batch_id=batch_id,
                    inspection_id=inspection_id(plan_id, batch_id, uscc))
    else:
        body.update(kind="targeted", case_id=case_id,
                    inspection_id=f"targeted/{dept}/{case_id}/{uscc}")
    return _submit(ledger, signer, "inspection.completed", dept, body, now)


def record_result(ledger: Ledger, signer: NoteSigner, dept: str, inspection: str, *,
                  outcome: str, findings: str, attachments: list[bytes] | None = None,
                  now: datetime | None = None) -> int:
    """``result.recorded``: the outcome code, the findings text, attachments by SHA-256."""
    body = {"inspection_id": inspection, "dept": dept, "outcome": outcome,
            "findings": findings,
            "attachments": [hashlib.sha256(a).hexdigest() for a in attachments or []]}
    return _submit(ledger, signer, "result.recorded", dept, body, now)


def correct_result(ledger: Ledger, signer: NoteSigner, dept: str, inspection: str, *,
                   corrects: int, outcome: str, findings: str, reason: str,
                   now: datetime | None = None) -> int:
    """``result.corrected``: a new record pointing at the one it corrects (never an edit)."""
    body = {"inspection_id": inspection, "dept": dept, "corrects": corrects,
            "outcome": outcome, "findings": findings, "reason": reason, "attachments": []}
    return _submit(ledger, signer, "result.corrected", dept, body, now)


def publish_result(ledger: Ledger, signer: NoteSigner, dept: str, inspection: str, *,
                   record: bytes, url: str, now: datetime | None = None) -> int:
    """``result.published``: the SHA-256 of the record exactly as publicised, and where."""
    body = {"inspection_id": inspection, "dept": dept,
            "record_sha256": hashlib.sha256(record).hexdigest(), "url": url}
    return _submit(ledger, signer, "result.published", dept, body, now)


def receive_lead(ledger: Ledger, signer: NoteSigner, dept: str, *, case_id: str, source: str,
                 received_on: date, details: bytes, salt: bytes,
                 now: datetime | None = None) -> int:
    """``lead.received``: a complaint, referral or monitoring lead, kept off the log: only
    SHA-256(salt || details) is written, so the department can later show what it held."""
    if len(salt) < 16:
        raise InputError("salt: at least 16 random bytes, or the details could be guessed")
    body = {"dept": dept, "case_id": case_id, "source": source,
            "received_on": received_on.isoformat(),
            "commitment": hashlib.sha256(salt + details).hexdigest()}
    return _submit(ledger, signer, "lead.received", dept, body, now)
