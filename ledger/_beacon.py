"""A local dev beacon in drand's quicknet format (SPEC.md section 13.3), for demos and tests.

It signs rounds with one BLS key on G1 exactly as a ``bls-unchained-g1-rfc9380`` chain
does, so draws run offline through the same code and the verifier checks its rounds
with the same ``verify_beacon``. It is not a randomness beacon: whoever holds the key
can compute every round in advance. The verifier trusts a dev chain only when the trust
policy names it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from ledger._errors import InputError
from verifier._beacon import (
    DST_G1,
    SCHEME_G1_RFC9380,
    Beacon,
    Chain,
    beacon_message,
    dev_chain,
    import_py_ecc,
)
from verifier._errors import FormatError

import_py_ecc()  # before its submodules: keeps the interpreter's recursion limit

from py_ecc.bls.hash_to_curve import hash_to_G1  # noqa: E402
from py_ecc.bls.point_compression import compress_G1, compress_G2  # noqa: E402
from py_ecc.optimized_bls12_381.optimized_curve import G2, curve_order, multiply  # noqa: E402

__all__ = ["SEED_PREFIX", "DevBeacon"]

SEED_PREFIX = b"drawledger/dev-beacon/v1/secret-key\x00"
_SK_SIZE = 32


class DevBeacon:
    """One dev chain: a secret key, its ``chain`` (a verifier Chain) and ``sign(round)``.

    Build it from a seed (reproducible demos), from saved ``secret_key`` bytes, or
    ``generate`` a fresh key. ``genesis`` (unix seconds) and ``period`` (seconds) fix
    the round schedule, as for drand.
    """

    __slots__ = ("_chain", "_sk")

    def __init__(self, secret_key: bytes, *, genesis: int, period: int,
                 name: str = "dev") -> None:
        if not isinstance(secret_key, bytes) or len(secret_key) != _SK_SIZE:
            raise InputError(f"dev beacon secret key: not {_SK_SIZE} bytes")
        sk = int.from_bytes(secret_key, "big")
        if not 0 < sk < curve_order:
            raise InputError("dev beacon secret key: not in 1..r-1 (r the BLS12-381 order)")
        self._sk = sk
        z1, z2 = compress_G2(multiply(G2, sk))
        public_key = (z1.to_bytes(48, "big") + z2.to_bytes(48, "big")).hex()
        try:
            self._chain = dev_chain(name, public_key, genesis, period)
        except FormatError as exc:
            raise InputError(f"dev beacon: {exc}") from None

    @classmethod
    def from_seed(cls, seed: bytes, *, genesis: int, period: int,
                  name: str = "dev") -> DevBeacon:
        """The key SHA-512(SEED_PREFIX || seed) mod (r - 1) + 1: the same seed always
        gives the same chain, so demo logs are reproducible."""
        if not isinstance(seed, bytes):
            raise InputError("dev beacon seed: not bytes")
        wide = int.from_bytes(hashlib.sha512(SEED_PREFIX + seed).digest(), "big")
        sk = wide % (curve_order - 1) + 1
        return cls(sk.to_bytes(_SK_SIZE, "big"), genesis=genesis, period=period, name=name)

    @classmethod
    def generate(cls, *, genesis: int, period: int, name: str = "dev") -> DevBeacon:
        """A fresh random key; keep ``secret_key`` to sign later rounds."""
        return cls.from_seed(secrets.token_bytes(32), genesis=genesis, period=period,
                             name=name)

    @property
    def secret_key(self) -> bytes:
        """The 32-byte big-endian secret scalar (to save and load the beacon)."""
        return self._sk.to_bytes(_SK_SIZE, "big")

    @property
    def chain(self) -> Chain:
        """The chain to pin in a trust policy: scheme, key, schedule and chain hash."""
        return self._chain

    def sign(self, round_: int) -> Beacon:
        """Round ``round_`` as drand quicknet publishes it: sk * H(SHA-256(u64be(round)))
        on G1 with the RFC 9380 DST, compressed to 48 bytes."""
        if isinstance(round_, bool) or not isinstance(round_, int) \
                or not 1 <= round_ <= 2**64 - 1:
            raise InputError(f"dev beacon round {round_!r}: not an integer in 1..2^64-1")
        unsigned = Beacon(round_, b"")
        sha256: Any = hashlib.sha256  # py_ecc annotates the hash function as a HASH object
        point = hash_to_G1(beacon_message(SCHEME_G1_RFC9380, unsigned), DST_G1, sha256)
        return Beacon(round_, compress_G1(multiply(point, self._sk)).to_bytes(48, "big"))

    def __repr__(self) -> str:
        return f"DevBeacon(chain={self._chain!r})"  # never the secret key
