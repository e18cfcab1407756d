"""drand beacons (SPEC.md section 13.1): chain parameters, round arithmetic, BLS checks.

A beacon round is public randomness nobody could know before the round's time, so a
draw that commits to its inputs before that time and then uses the round cannot be
steered. The verifier needs only the stored signature and the pinned chain, never the
network.

BLS12-381 is an optional extra: the core verifier installs with ``cryptography`` only.
The curve library is imported inside the check, the compiled ``py_arkworks_bls12381``
first and the pure-Python ``py_ecc`` as fallback (about 100 times slower); without
either, ``verify_beacon`` says ``"unverifiable"``, never ``"ok"``. Both back ends run the
same checks: decompression with subgroup check, identity rejected, hash-to-curve with
the scheme's DST, and one pairing product with a single final exponentiation.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from verifier._canonical import canonical
from verifier._errors import FormatError, TrustError

__all__ = [
    "BAD",
    "DEV_CHAIN_TYPE",
    "DST_G1",
    "DST_G2",
    "KNOWN_CHAINS",
    "OK",
    "SCHEMES",
    "SCHEME_CHAINED",
    "SCHEME_G1_LEGACY",
    "SCHEME_G1_RFC9380",
    "UNVERIFIABLE",
    "Beacon",
    "Chain",
    "beacon_message",
    "bls_available",
    "bls_backend",
    "dev_chain",
    "randomness",
    "verify_beacon",
]

OK: Final = "ok"
BAD: Final = "bad"
UNVERIFIABLE: Final = "unverifiable"

SCHEME_CHAINED: Final = "pedersen-bls-chained"
SCHEME_G1_RFC9380: Final = "bls-unchained-g1-rfc9380"
SCHEME_G1_LEGACY: Final = "bls-unchained-on-g1"
SCHEMES: Final = (SCHEME_CHAINED, SCHEME_G1_RFC9380, SCHEME_G1_LEGACY)

DST_G1: Final = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
DST_G2: Final = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"

DEV_CHAIN_TYPE: Final = "drawledger-dev-beacon/v1"

_G1_SIZE = 48
_G2_SIZE = 96
_MAX_ROUND = 2**64 - 1
_HEX = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class _Scheme:
    sig_on_g1: bool
    chained: bool
    dst: bytes


_SCHEMES: Mapping[str, _Scheme] = {
    SCHEME_CHAINED: _Scheme(sig_on_g1=False, chained=True, dst=DST_G2),
    SCHEME_G1_RFC9380: _Scheme(sig_on_g1=True, chained=False, dst=DST_G1),
    # fastnet's mistake, kept for old records: G1 signatures hashed with the G2 DST
    SCHEME_G1_LEGACY: _Scheme(sig_on_g1=True, chained=False, dst=DST_G2),
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hex(value: object, size: int | None, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise FormatError(f"{what}: not lowercase hex")
    if size is not None and len(value) != 2 * size:
        raise FormatError(f"{what}: {len(value) // 2} bytes, must be {size}")
    return bytes.fromhex(value)


@dataclass(frozen=True, slots=True)
class Chain:
    """A drand chain as the trust policy pins it; nothing here is read from the data.

    ``public_key`` is the group key, compressed (G1, 48 bytes, for the chained scheme; G2,
    96 bytes, for the G1-signature schemes). ``chain_hash`` is drand's identifier of the
    chain, taken as pinned (it hashes inputs, such as the group file, that a beacon does
    not carry).
    """

    name: str
    chain_hash: str
    scheme: str
    public_key: str
    genesis: int
    period: int

    def __post_init__(self) -> None:
        where = f"chain {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise FormatError("chain name: not a non-empty string")
        if not isinstance(self.scheme, str) or self.scheme not in _SCHEMES:
            raise FormatError(f"{where}: unknown scheme {self.scheme!r}, "
                              f"expected one of {', '.join(SCHEMES)}")
        _hex(self.chain_hash, 32, f"{where}: chain_hash")
        pk_size = _G2_SIZE if _SCHEMES[self.scheme].sig_on_g1 else _G1_SIZE
        _hex(self.public_key, pk_size, f"{where}: public_key")
        if not _is_int(self.genesis) or self.genesis < 0:
            raise FormatError(f"{where}: genesis is not a non-negative integer")
        if not _is_int(self.period) or self.period < 1:
            raise FormatError(f"{where}: period is not a positive integer")

    def round_time(self, round_: int) -> int:
        """Unix time at which ``round_`` is due: genesis + (round - 1) * period."""
        if not _is_int(round_) or not 1 <= round_ <= _MAX_ROUND:
            raise FormatError(f"round {round_!r}: not an integer in 1..2^64-1")
        return self.genesis + (round_ - 1) * self.period

    def round_at(self, t: int) -> int:
        """The first round due at or after unix time ``t`` (1 for any ``t`` up to genesis).

        A draw fixed at ``t`` must use a round nobody could know at ``t``, so this is the
        ceiling, not drand's "current round" floor(...) + 1, which is already published
        at ``t`` unless ``t`` falls exactly on a round time.
        """
        if not _is_int(t):
            raise FormatError(f"time {t!r}: not an integer (unix seconds)")
        if t <= self.genesis:
            return 1
        return -(-(t - self.genesis) // self.period) + 1


def _chain(name: str, chain_hash: str, scheme: str, public_key: str, genesis: int,
           period: int) -> Chain:
    return Chain(name, chain_hash, scheme, public_key, genesis, period)


KNOWN_CHAINS: Mapping[str, Chain] = MappingProxyType({
    "loe-default": _chain(
        "loe-default", "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
        SCHEME_CHAINED,
        "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c729"
        "3784a9402801af31",
        1595431050, 30),
    "loe-quicknet": _chain(
        "loe-quicknet", "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
        SCHEME_G1_RFC9380,
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3a"
        "c6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5"
        "a6e9c76a4bc09e76eae8991ef5ece45a",
        1692803367, 3),
})


def dev_chain(name: str, public_key: str, genesis: int, period: int) -> Chain:
    """The chain of a local dev beacon: chain_hash = SHA-256 of the canonical JSON of
    its description, so the hash names exactly one key and schedule and can never
    collide with a real drand chain (whose hashes have a different preimage form)."""
    description = {"type": DEV_CHAIN_TYPE, "name": name, "scheme": SCHEME_G1_RFC9380,
                   "public_key": public_key, "genesis": genesis, "period": period}
    chain_hash = hashlib.sha256(canonical(description)).hexdigest()
    return Chain(name, chain_hash, SCHEME_G1_RFC9380, public_key, genesis, period)


@dataclass(frozen=True, slots=True)
class Beacon:
    """One round as drand publishes it (signature bytes, not hex).

    ``previous_signature`` is the previous round's signature for the chained scheme
    (the genesis seed for round 1) and must be None for unchained schemes, so a stored
    beacon has exactly one form.
    """

    round: int
    signature: bytes
    previous_signature: bytes | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.round):
            raise FormatError(f"beacon round {self.round!r}: not an integer")
        if not isinstance(self.signature, bytes):
            raise FormatError(f"beacon round {self.round}: signature is not bytes")
        if self.previous_signature is not None and not isinstance(self.previous_signature,
                                                                  bytes):
            raise FormatError(f"beacon round {self.round}: previous_signature is not bytes")


def randomness(signature: bytes) -> bytes:
    """drand's randomness: SHA-256 of the signature bytes (curve points are not uniform)."""
    return hashlib.sha256(signature).digest()


def beacon_message(scheme: str, beacon: Beacon) -> bytes:
    """The 32 bytes the chain signs: SHA-256(prev_sig || u64be(round)) for the chained
    scheme, SHA-256(u64be(round)) otherwise."""
    if not isinstance(scheme, str) or scheme not in _SCHEMES:
        raise FormatError(f"unknown scheme {scheme!r}")
    if not 1 <= beacon.round <= _MAX_ROUND:
        raise FormatError(f"beacon round {beacon.round}: not in 1..2^64-1")
    h = hashlib.sha256()
    if _SCHEMES[scheme].chained:
        if beacon.previous_signature is None:
            raise FormatError(f"beacon round {beacon.round}: the chained scheme needs "
                              "previous_signature")
        h.update(beacon.previous_signature)
    h.update(beacon.round.to_bytes(8, "big"))
    return h.digest()


class _Bad(Exception):
    """The beacon does not verify (internal: becomes ``BAD``)."""


class _NoLibrary(Exception):
    """No BLS12-381 library importable (internal: becomes ``UNVERIFIABLE``)."""


# A back end checks e(sig, g2) == e(H(msg), pk) for G1 signatures, or
# e(g1, sig) == e(pk, H(msg)) for G2 signatures. It raises ImportError when its library
# is missing, TrustError for an unusable pinned key and _Bad for a bad signature.
_Backend = Callable[[bool, bytes, bytes, bytes, bytes], bool]


def _verify_arkworks(sig_on_g1: bool, public_key: bytes, signature: bytes, message: bytes,
                     dst: bytes) -> bool:
    """arkworks (Rust): ``from_compressed_bytes`` checks the curve and the subgroup."""
    from py_arkworks_bls12381 import GT, G1Point, G2Point

    if sig_on_g1:
        try:
            pk2 = G2Point.from_compressed_bytes(public_key)
        except ValueError as exc:
            raise TrustError(f"chain public key does not decode: {exc}") from None
        if pk2 == G2Point.identity():
            raise TrustError("chain public key is the identity point")
        try:
            s1 = G1Point.from_compressed_bytes(signature)
        except ValueError:
            raise _Bad from None
        if s1 == G1Point.identity():
            raise _Bad
        return GT.pairing_check([s1, -G1Point.hash_to_curve(message, dst)], [G2Point(), pk2])
    try:
        pk1 = G1Point.from_compressed_bytes(public_key)
    except ValueError as exc:
        raise TrustError(f"chain public key does not decode: {exc}") from None
    if pk1 == G1Point.identity():
        raise TrustError("chain public key is the identity point")
    try:
        s2 = G2Point.from_compressed_bytes(signature)
    except ValueError:
        raise _Bad from None
    if s2 == G2Point.identity():
        raise _Bad
    return GT.pairing_check([-G1Point(), pk1], [s2, G2Point.hash_to_curve(message, dst)])


def import_py_ecc() -> None:
    """Import py_ecc, undoing what its ``__init__`` does to the interpreter: it raises the
    recursion limit to 100000, which turns deeply nested JSON from a clean error into a
    crash of the C stack. Its own recursion is shallow."""
    limit = sys.getrecursionlimit()
    try:
        importlib.import_module("py_ecc")
    finally:
        sys.setrecursionlimit(limit)


def _py_ecc_point(on_g1: bool, data: bytes) -> Any:
    """Decompress with py_ecc and check the subgroup (its decompression checks only the
    curve): multiplication by the group order must give the identity."""
    import_py_ecc()
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2
    from py_ecc.bls.typing import G1Compressed, G2Compressed
    from py_ecc.optimized_bls12_381.optimized_curve import curve_order, is_inf, multiply

    point: Any
    if on_g1:
        point = decompress_G1(G1Compressed(int.from_bytes(data, "big")))
    else:
        point = decompress_G2(G2Compressed((int.from_bytes(data[:_G1_SIZE], "big"),
                                            int.from_bytes(data[_G1_SIZE:], "big"))))
    if is_inf(point):
        raise ValueError("the identity point")
    if not is_inf(multiply(point, curve_order)):
        raise ValueError("not in the prime-order subgroup")
    return point


@functools.lru_cache(maxsize=16)
def _py_ecc_public_key(on_g1: bool, data: bytes) -> Any:
    """The pinned key, decoded once per chain (its subgroup check alone takes 0.1 s)."""
    try:
        return _py_ecc_point(on_g1, data)
    except ValueError as exc:
        raise TrustError(f"chain public key does not decode: {exc}") from None


def _verify_py_ecc(sig_on_g1: bool, public_key: bytes, signature: bytes, message: bytes,
                   dst: bytes) -> bool:
    """py_ecc (pure Python): two Miller loops, one final exponentiation."""
    from py_ecc.bls.hash_to_curve import hash_to_G1, hash_to_G2
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381.optimized_curve import G1, G2, neg
    from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, pairing

    sha256: Any = hashlib.sha256  # py_ecc annotates the hash function as a HASH object
    pk = _py_ecc_public_key(not sig_on_g1, public_key)
    try:
        sig = _py_ecc_point(sig_on_g1, signature)
    except ValueError:
        raise _Bad from None
    if sig_on_g1:
        h1 = hash_to_G1(message, dst, sha256)
        f = (pairing(G2, sig, final_exponentiate=False)
             * pairing(pk, neg(h1), final_exponentiate=False))
    else:
        h2 = hash_to_G2(message, dst, sha256)
        f = (pairing(sig, neg(G1), final_exponentiate=False)
             * pairing(h2, pk, final_exponentiate=False))
    return bool(final_exponentiate(f) == FQ12.one())


_BACKENDS: tuple[tuple[str, _Backend], ...] = (
    ("py_arkworks_bls12381", _verify_arkworks),
    ("py_ecc", _verify_py_ecc),
)
_MODULES = {"py_arkworks_bls12381": "py_arkworks_bls12381", "py_ecc": "py_ecc.bls"}


def bls_backend() -> str | None:
    """Name of the BLS12-381 library ``verify_beacon`` would use, or None."""
    for name, _ in _BACKENDS:
        try:
            importlib.import_module(_MODULES[name])
        except ImportError:
            continue
        return name
    return None


def bls_available() -> bool:
    """Whether beacons can be verified here (a BLS12-381 library is installed)."""
    return bls_backend() is not None


@functools.lru_cache(maxsize=4096)
def _check(chain: Chain, beacon: Beacon) -> None:
    """Return only when the beacon verifies, so the cache holds successes only
    (lru_cache does not store exceptions): an audit checks the same round many times."""
    scheme = _SCHEMES[chain.scheme]
    if not 1 <= beacon.round <= _MAX_ROUND:
        raise _Bad
    sig_size = _G1_SIZE if scheme.sig_on_g1 else _G2_SIZE
    if len(beacon.signature) != sig_size:
        raise _Bad
    if scheme.chained != (beacon.previous_signature is not None):
        raise _Bad
    message = beacon_message(chain.scheme, beacon)
    public_key = bytes.fromhex(chain.public_key)
    for _, backend in _BACKENDS:
        try:
            ok = backend(scheme.sig_on_g1, public_key, beacon.signature, message, scheme.dst)
        except ImportError:
            continue
        if not ok:
            raise _Bad
        return
    raise _NoLibrary


def verify_beacon(chain: Chain, beacon: Beacon) -> str:
    """``OK`` when ``beacon`` is the chain's signature of its round, ``BAD`` when it is
    not, ``UNVERIFIABLE`` when no BLS12-381 library is installed.

    Checks, in order: the round is in 1..2^64-1; the signature has the scheme's size;
    ``previous_signature`` is present exactly for the chained scheme; the pinned key and
    the signature decompress to non-identity points in their prime-order subgroups; the
    pairing equation over the scheme's message and DST. Raises TrustError if the pinned key
    is unusable, since no beacon can then be judged.
    """
    try:
        _check(chain, beacon)
    except _Bad:
        return BAD
    except _NoLibrary:
        return UNVERIFIABLE
    return OK
