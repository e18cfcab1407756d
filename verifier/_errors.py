"""The verifier's exceptions, split by who is at fault.

::

    VerifierError                    root: catch this to catch everything the verifier raises
    ├── FormatError                  bytes that do not parse as the spec says (bad input)
    │   └── CanonicalError           JSON outside the canonical profile (SPEC.md section 2)
    ├── IntegrityError               well-formed data that does not check out (tampering)
    │   ├── SignatureError           a signature that does not verify
    │   └── ProofError               a Merkle inclusion or consistency proof that fails
    ├── TrustError                   a trust input (key, policy) is missing or unusable
    └── KeyFileError                 a secret key file is missing, exposed or not a key
                                     (defined in verifier._keyfile)

Every error carries a plain message naming the field, line or entry at fault.
"""

from __future__ import annotations


class VerifierError(Exception):
    """Root of every exception the verifier raises."""


class FormatError(VerifierError, ValueError):
    """Input that does not parse as SPEC.md specifies."""


class CanonicalError(FormatError):
    """JSON that is not in the canonical profile."""


class IntegrityError(VerifierError):
    """Well-formed data that fails a cryptographic or structural check."""


class SignatureError(IntegrityError):
    """A signature that does not verify under the key it names."""


class ProofError(IntegrityError):
    """A Merkle proof that does not lead to the claimed root."""


class TrustError(VerifierError):
    """A trust input is missing or unusable, so the check cannot be made."""
