"""drawledger's write side: the event-sourced, hash-chained log (uses ``verifier``)."""

from ledger._app import ImportResult, Ledger, db_env
from ledger._demo import DEFAULT_ORIGIN, DEFAULT_POLICY, DEPARTMENTS, Parties, build_demo, init_log
from ledger._errors import (
    InputError,
    KeyFileError,
    LedgerError,
    NoLogError,
    RejectedError,
    StorageError,
)
from ledger._model import Record, Stated, StatementMapper
from ledger._statements import Submission, load_key, save_key, sign_statement

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_POLICY",
    "DEPARTMENTS",
    "ImportResult",
    "InputError",
    "KeyFileError",
    "Ledger",
    "LedgerError",
    "NoLogError",
    "Parties",
    "Record",
    "RejectedError",
    "Stated",
    "StatementMapper",
    "StorageError",
    "Submission",
    "build_demo",
    "db_env",
    "init_log",
    "load_key",
    "save_key",
    "sign_statement",
]
