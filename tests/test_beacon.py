"""drand beacons: real vectors verify, every tampered variant fails, round arithmetic, the
dev beacon, and the outcome when no BLS12-381 library is installed.

The vectors (tests/vectors/drand.json) are real beacons from drand's own repositories
and one third-party quicknet beacon; the file names each source.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger._beacon import DevBeacon
from ledger._errors import InputError
from verifier import _beacon
from verifier._beacon import (
    BAD,
    DEV_CHAIN_TYPE,
    KNOWN_CHAINS,
    OK,
    SCHEME_CHAINED,
    SCHEME_G1_LEGACY,
    SCHEME_G1_RFC9380,
    UNVERIFIABLE,
    Beacon,
    Chain,
    beacon_message,
    bls_available,
    bls_backend,
    randomness,
    verify_beacon,
)
from verifier._errors import FormatError, TrustError

DATA = json.loads((Path(__file__).parent / "vectors" / "drand.json").read_text())
VECTORS: list[dict[str, Any]] = DATA["vectors"]
IDS = [v["label"] for v in VECTORS]
QUICKNET = KNOWN_CHAINS["loe-quicknet"]
DEFAULT = KNOWN_CHAINS["loe-default"]
# BLS12-381 G1 generator, compressed: a valid key that is no chain's key
G1_GENERATOR = ("97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83f"
                "f97a1aeffb3af00adb22c6bb")
WALKTHROUGH_KEY = next(v["public_key"] for v in VECTORS if "walkthrough" in v["label"])

needs_bls = pytest.mark.skipif(not bls_available(), reason="no BLS12-381 library installed")
# Pure-Python py_ecc takes ~0.5 s a check: with it alone, tampered variants are tried on one
# vector per scheme instead of all, to keep this file within ~20 s.
SLOW = bls_backend() == "py_ecc"
TAMPER = [v for i, v in enumerate(VECTORS)
          if not SLOW or v["scheme"] not in {w["scheme"] for w in VECTORS[:i]}]
TAMPER_IDS = [v["label"] for v in TAMPER]


def chain_of(v: dict[str, Any]) -> Chain:
    """The pinned chain when the vector comes from one, else a chain around its key."""
    for chain in KNOWN_CHAINS.values():
        if chain.public_key == v["public_key"]:
            assert chain.scheme == v["scheme"]
            return chain
    return Chain(v["label"], hashlib.sha256(v["label"].encode()).hexdigest(), v["scheme"],
                 v["public_key"], 0, 3)


def beacon_of(v: dict[str, Any]) -> Beacon:
    prev = v["previous_signature"]
    return Beacon(v["round"], bytes.fromhex(v["signature"]),
                  bytes.fromhex(prev) if prev is not None else None)


def wrong_key(chain: Chain) -> str:
    """Another valid key in the same group."""
    if chain.scheme == SCHEME_CHAINED:
        return G1_GENERATOR
    return QUICKNET.public_key if chain.public_key != QUICKNET.public_key else WALKTHROUGH_KEY


# -- chains and rounds -----------------------------------------------------------------


def test_known_chains_are_the_pinned_ones() -> None:
    for name, spec in DATA["chains"].items():
        chain = KNOWN_CHAINS[name]
        assert (chain.name, chain.chain_hash, chain.scheme, chain.public_key, chain.genesis,
                chain.period) == (name, spec["chain_hash"], spec["scheme"],
                                  spec["public_key"], spec["genesis_unix"], spec["period_s"])


@pytest.mark.parametrize(("chain", "round_", "t"), [
    (DEFAULT, 1, 1595431050),
    (DEFAULT, 1000, 1595461020),
    (DEFAULT, 2634945, 1674479370),
    (QUICKNET, 1, 1692803367),
    (QUICKNET, 657413, 1694775603),
])
def test_round_time_and_round_at(chain: Chain, round_: int, t: int) -> None:
    assert chain.round_time(round_) == t
    assert chain.round_at(t) == round_  # exactly at a round time: that round
    assert chain.round_at(t + 1) == round_ + 1  # one second later: the next one
    if round_ > 1:
        assert chain.round_at(t - 1) == round_
        assert chain.round_at(chain.round_time(round_ - 1) + 1) == round_


def test_round_at_is_the_first_round_not_yet_published() -> None:
    t = DEFAULT.genesis + 10 * DEFAULT.period + 7
    drand_current = (t - DEFAULT.genesis) // DEFAULT.period + 1  # published at t already
    assert DEFAULT.round_at(t) == drand_current + 1
    assert DEFAULT.round_time(DEFAULT.round_at(t)) >= t > DEFAULT.round_time(drand_current)
    assert DEFAULT.round_at(DEFAULT.genesis - 1000) == 1
    assert DEFAULT.round_at(0) == 1


@pytest.mark.parametrize("bad", [0, -1, 2**64, True, "5"])
def test_round_time_rejects_rounds_outside_u64(bad: Any) -> None:
    with pytest.raises(FormatError):
        QUICKNET.round_time(bad)


@pytest.mark.parametrize("change", [
    {"scheme": "bls-unchained-on-g2"},
    {"chain_hash": "ab" * 31},
    {"chain_hash": "AB" * 32},
    {"public_key": G1_GENERATOR},  # a G1 key for a G2-key scheme
    {"genesis": -1},
    {"period": 0},
    {"period": 3.0},
    {"name": ""},
])
def test_chain_rejects_malformed_parameters(change: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        replace(QUICKNET, **change)


def test_message_per_scheme() -> None:
    b = Beacon(1000, b"s", b"p" * 96)
    assert beacon_message(SCHEME_CHAINED, b) == hashlib.sha256(
        b"p" * 96 + (1000).to_bytes(8, "big")).digest()
    unchained = Beacon(1000, b"s")
    expected = hashlib.sha256(b"\x00\x00\x00\x00\x00\x00\x03\xe8").digest()
    assert beacon_message(SCHEME_G1_RFC9380, unchained) == expected
    assert beacon_message(SCHEME_G1_LEGACY, unchained) == expected
    with pytest.raises(FormatError):
        beacon_message(SCHEME_CHAINED, unchained)


# -- the vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_randomness_is_sha256_of_the_signature(v: dict[str, Any]) -> None:
    assert randomness(bytes.fromhex(v["signature"])).hex() == v["randomness"]


@needs_bls
@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_verifies(v: dict[str, Any]) -> None:
    assert verify_beacon(chain_of(v), beacon_of(v)) == OK


@needs_bls
@pytest.mark.parametrize("v", TAMPER, ids=TAMPER_IDS)
def test_next_round_with_the_same_signature_fails(v: dict[str, Any]) -> None:
    assert verify_beacon(chain_of(v), replace(beacon_of(v), round=v["round"] + 1)) == BAD


@needs_bls
@pytest.mark.parametrize("v", TAMPER, ids=TAMPER_IDS)
def test_flipped_signature_byte_fails(v: dict[str, Any]) -> None:
    b = beacon_of(v)
    for i in (len(b.signature) - 1, 20):
        sig = bytearray(b.signature)
        sig[i] ^= 0x01
        assert verify_beacon(chain_of(v), replace(b, signature=bytes(sig))) == BAD


@needs_bls
@pytest.mark.parametrize("v", TAMPER, ids=TAMPER_IDS)
def test_wrong_chain_key_fails(v: dict[str, Any]) -> None:
    chain = chain_of(v)
    assert verify_beacon(replace(chain, public_key=wrong_key(chain)), beacon_of(v)) == BAD


@needs_bls
def test_dst_is_bound_to_the_scheme() -> None:
    """quicknet checked with the G2 DST (the deprecated fastnet scheme) fails, and the
    fastnet vector checked with the RFC 9380 DST fails."""
    quick = next(v for v in VECTORS if v["public_key"] == QUICKNET.public_key)
    assert verify_beacon(replace(QUICKNET, scheme=SCHEME_G1_LEGACY), beacon_of(quick)) == BAD
    legacy = next(v for v in VECTORS if v["scheme"] == SCHEME_G1_LEGACY)
    assert verify_beacon(replace(chain_of(legacy), scheme=SCHEME_G1_RFC9380),
                         beacon_of(legacy)) == BAD


@needs_bls
def test_previous_signature_is_bound() -> None:
    v = next(v for v in VECTORS if v["round"] == 1000)
    b = beacon_of(v)
    assert b.previous_signature is not None
    wrong = bytes([b.previous_signature[0] ^ 1]) + b.previous_signature[1:]
    assert verify_beacon(DEFAULT, replace(b, previous_signature=wrong)) == BAD
    assert verify_beacon(DEFAULT, replace(b, previous_signature=None)) == BAD
    quick = beacon_of(next(v for v in VECTORS if v["public_key"] == QUICKNET.public_key))
    assert verify_beacon(QUICKNET, replace(quick, previous_signature=b"")) == BAD


@needs_bls
@pytest.mark.parametrize("signature", [
    b"",
    b"\x00" * 48,
    b"\xc0" + b"\x00" * 47,  # the identity point
    b"\xff" * 48,
    bytes.fromhex(G1_GENERATOR) + b"\x00",
])
def test_malformed_signature_is_bad_not_a_crash(signature: bytes) -> None:
    assert verify_beacon(QUICKNET, Beacon(657413, signature)) == BAD


def test_round_outside_u64_is_bad() -> None:
    quick = beacon_of(next(v for v in VECTORS if v["public_key"] == QUICKNET.public_key))
    assert verify_beacon(QUICKNET, replace(quick, round=0)) == BAD
    assert verify_beacon(QUICKNET, replace(quick, round=2**64)) == BAD


@needs_bls
@pytest.mark.parametrize("key", ["c0" + "00" * 95, "80" + "00" * 95])
def test_unusable_pinned_key_is_a_trust_error(key: str) -> None:
    quick = beacon_of(next(v for v in VECTORS if v["public_key"] == QUICKNET.public_key))
    with pytest.raises(TrustError):
        verify_beacon(replace(QUICKNET, public_key=key), quick)


@needs_bls
def test_successes_are_memoised() -> None:
    v = VECTORS[0]
    verify_beacon(chain_of(v), beacon_of(v))
    hits = _beacon._check.cache_info().hits
    assert verify_beacon(chain_of(v), beacon_of(v)) == OK
    assert _beacon._check.cache_info().hits == hits + 1


@pytest.mark.parametrize("name", [n for n, _ in _beacon._BACKENDS])
def test_each_backend_alone(name: str) -> None:
    """Each library gives the expected verdicts, one vector per scheme: the back end not
    chosen by default is otherwise never run."""
    pytest.importorskip(_beacon._MODULES[name])
    if name == bls_backend():
        pytest.skip("the default back end: every other test runs it")
    backend = dict(_beacon._BACKENDS)[name]
    seen = set()
    for v in VECTORS:
        if v["scheme"] in seen:
            continue
        seen.add(v["scheme"])
        scheme = _beacon._SCHEMES[v["scheme"]]
        b = beacon_of(v)
        key = bytes.fromhex(v["public_key"])
        assert backend(scheme.sig_on_g1, key, b.signature,
                       beacon_message(v["scheme"], b), scheme.dst)
        if v["scheme"] == SCHEME_G1_RFC9380:
            later = replace(b, round=b.round + 1)
            assert not backend(scheme.sig_on_g1, key, b.signature,
                               beacon_message(v["scheme"], later), scheme.dst)


# -- without a BLS library -----------------------------------------------------------------


@pytest.fixture
def no_bls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every import of the BLS libraries fail, as on a bare install."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("py_ecc", "py_arkworks_bls12381"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "py_ecc", None)
    monkeypatch.setitem(sys.modules, "py_arkworks_bls12381", None)
    _beacon._check.cache_clear()
    _beacon._py_ecc_public_key.cache_clear()


@pytest.mark.usefixtures("no_bls")
def test_without_a_bls_library_the_outcome_is_unverifiable() -> None:
    assert not bls_available()
    assert bls_backend() is None
    for v in VECTORS:
        assert verify_beacon(chain_of(v), beacon_of(v)) == UNVERIFIABLE
    v = VECTORS[0]
    wrong_round = replace(beacon_of(v), round=v["round"] + 1)
    assert verify_beacon(chain_of(v), wrong_round) == UNVERIFIABLE
    # what needs no curve arithmetic is still judged
    assert verify_beacon(QUICKNET, Beacon(5, b"\x00" * 96)) == BAD


# -- the dev beacon -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev() -> DevBeacon:
    return DevBeacon.from_seed(b"drawledger demo", genesis=1_700_000_000, period=30)


@needs_bls
def test_dev_beacon_round_verifies(dev: DevBeacon) -> None:
    b = dev.sign(41)
    assert len(b.signature) == 48 and b.previous_signature is None
    assert verify_beacon(dev.chain, b) == OK
    assert verify_beacon(dev.chain, replace(dev.sign(42), round=41)) == BAD


def test_dev_chain_is_reproducible_and_hashed_canonically(dev: DevBeacon) -> None:
    chain = dev.chain
    assert chain.scheme == SCHEME_G1_RFC9380 and chain.name == "dev"
    assert (chain.genesis, chain.period) == (1_700_000_000, 30)
    description = {"type": DEV_CHAIN_TYPE, "name": "dev", "scheme": SCHEME_G1_RFC9380,
                   "public_key": chain.public_key, "genesis": 1_700_000_000, "period": 30}
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    assert chain.chain_hash == hashlib.sha256(text.encode()).hexdigest()
    again = DevBeacon.from_seed(b"drawledger demo", genesis=1_700_000_000, period=30)
    assert again.chain == chain and again.sign(7) == dev.sign(7)
    loaded = DevBeacon(dev.secret_key, genesis=1_700_000_000, period=30)
    assert loaded.chain == chain
    other = DevBeacon.from_seed(b"another demo", genesis=1_700_000_000, period=30)
    assert other.chain.public_key != chain.public_key
    assert DevBeacon(dev.secret_key, genesis=1_700_000_030, period=30).chain.chain_hash \
        != chain.chain_hash
    assert "secret" not in repr(dev) and dev.secret_key.hex() not in repr(dev)


@pytest.mark.parametrize("key", [b"", b"\x00" * 32, b"\xff" * 32, b"\x01" * 31])
def test_dev_beacon_rejects_bad_secret_keys(key: bytes) -> None:
    with pytest.raises(InputError):
        DevBeacon(key, genesis=0, period=30)


def test_dev_beacon_rejects_bad_rounds_and_schedules(dev: DevBeacon) -> None:
    for round_ in (0, -3, 2**64, True):
        with pytest.raises(InputError):
            dev.sign(round_)
    with pytest.raises(InputError):
        DevBeacon(dev.secret_key, genesis=0, period=0)
