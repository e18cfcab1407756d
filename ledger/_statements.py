"""Signed statements and key files: the verifier's own (``verifier._statements``,
``verifier._keyfile``), re-exported so that ledger code keeps one import path.

They moved to the verifier so that a party signs offline with the verifier alone; the
log checks what it is given with the same code.
"""

from __future__ import annotations

from verifier import BatchSubmission, Submission, load_key, save_key, sign_batch, sign_statement

__all__ = ["BatchSubmission", "Submission", "load_key", "save_key", "sign_batch",
           "sign_statement"]
