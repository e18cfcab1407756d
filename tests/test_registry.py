"""Registry body rules (verifier._registry): USCC per GB 32100-2015, body layouts, codes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from verifier import _registry as registry
from verifier._registry import (
    CONFLICT_RELATIONS,
    CONFLICT_WITHDRAWAL_REASONS,
    INDUSTRY_SECTIONS,
    INSPECTOR_REMOVAL_REASONS,
    PROVINCE_ABBREVIATIONS,
    PROVINCE_CODES,
    TARGET_REMOVAL_REASONS,
    TARGET_STATUSES,
    USCC_AUTHORITIES,
    _check_body_full,
    body_errors,
    body_warnings,
    canonical_status,
    check_body,
    check_uscc,
    excel_mangled,
    is_personal_key,
    reg_no_check_ok,
    uscc_problems,
)
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

VECTORS = Path(__file__).resolve().parent / "vectors"
V = json.loads((VECTORS / "uscc.json").read_text(encoding="utf-8"))
EXCEL = "Excel converted this code to a number (scientific notation / 15 significant digits)"

# What each invalid vector must be rejected for (a substring of the error).
EXPECTED_REASON = {
    "91370321MAU34K4U1J": "wrong check character: expected 'H', found 'J'",
    "92370302MALP7MKR4": "has 17 characters, needs 18",
    "91370303MAN1K26B2J0": "has 19 characters, needs 18",
    "92370306MAI84E5A7T": "character 'I' at position 11 is not in the GB 32100 set",
    "91370304manjrh0u5f": "lower-case letters",
    "91370302MA3C4E5F6": "has 17 characters, needs 18",
    "9.13703E+17": EXCEL,
    "913703021922038000": EXCEL,
    "９１３７０３０２ＭＡ３Ｃ４Ｅ５Ｆ６Ｘ": "full-width",
}


def make_uscc(head: str = "91370302", org8: str = "MA3C4E5F", org_ok: bool = True) -> str:
    """A code with a correct GB 32100 check; the org code check right or deliberately wrong."""
    check = org_code_check_char(org8)
    if not org_ok:
        check = next(c for c in "0123456789" if c != check)
    body = head + org8 + check
    return body + uscc_check_char(body)


def target(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": make_uscc(), "name": "淄博王伟商贸有限公司", "dept": "ZC-SCJGJ",
        "registry": "ZC-SCJGJ/F", "industry": "F5299", "region": "370302", "risk": "B",
        "status": "存续", "unit": "般阳路街道市场监管所",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def inspector(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cert_no": "370302123456", "name": "李娜", "dept": "ZC-SCJGJ", "unit": "昆仑镇市场监管所",
        "qualifications": ["general", "food-2026"], "valid_from": "2024-01-01",
        "valid_to": "2028-12-31", "expert": False,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def errors_for(type_: str, body: dict[str, Any]) -> str:
    return " | ".join(body_errors(type_, body))


# ---------------------------------------------------------------------------- USCC


@pytest.mark.parametrize("code", V["valid_synthetic"])
def test_valid_vectors_pass(code: str) -> None:
    assert uscc_problems(code) == ([], [])


@pytest.mark.parametrize("case", V["invalid"], ids=lambda c: c["why"][:30])
def test_invalid_vectors_fail_for_the_right_reason(case: dict[str, str]) -> None:
    errors, _ = uscc_problems(case["code"])
    assert errors, case
    assert all(e.startswith("uscc: ") for e in errors)
    assert any(EXPECTED_REASON[case["code"]] in e for e in errors), errors


def test_every_invalid_vector_has_an_expected_reason() -> None:
    assert {c["code"] for c in V["invalid"]} == set(EXPECTED_REASON)


def test_excel_vectors_say_only_excel() -> None:
    for code in ("9.13703E+17", "9.13703E17", "913703021922038000", "913703021922038000.0"):
        assert uscc_problems(code)[0] == [f"uscc: {EXCEL}; format the column as text and "
                                          "re-export"], code


def test_standard_worked_example() -> None:
    ex = V["standard_example"]
    values = [USCC_CHARSET.index(c) for c in ex["body"]]
    assert sum(v * pow(3, i, 31) for i, v in enumerate(values)) == ex["sum"]
    assert uscc_check_char(ex["body"]) == ex["check"]
    assert uscc_problems(ex["body"] + ex["check"]) == ([], [])
    # The standard's counter-example: the same body with 'Z' (not even in the set).
    errors, _ = uscc_problems(ex["body"] + "Z")
    assert any("'Z' at position 18" in e for e in errors)


def test_org_code_failure_is_a_warning_only() -> None:
    code = make_uscc(org_ok=False)
    errors, warnings = uscc_problems(code)
    assert errors == []
    assert len(warnings) == 1 and "GB 11714 MOD 11" in warnings[0]
    assert uscc_problems(make_uscc(org_ok=True)) == ([], [])
    assert body_errors("target.added", target(uscc=code)) == []
    assert any("GB 11714" in w for w in body_warnings("target.added", target(uscc=code)))


def test_org_code_check_char_examples() -> None:
    assert org_code_check_char("M000100Y") == "4"  # inside the standard's example
    for body in ("00000000", "12345678", "MA3C4E5F", "ZZZZZZZZ"):
        c = org_code_check_char(body)
        assert c in "0123456789X"


def test_authority_and_entity_type_tables() -> None:
    for first, (_, kinds) in USCC_AUTHORITIES.items():
        for second in kinds:
            assert uscc_problems(make_uscc(first + second + "370302")) == ([], []), first + second
    bad_first, _ = uscc_problems(make_uscc("B1370302"))
    assert any("position 1 (registration authority) 'B'" in e for e in bad_first)
    bad_second, _ = uscc_problems(make_uscc("94370302"))
    assert any("position 2 (entity type) '4'" in e and "(工商)" in e for e in bad_second)
    assert uscc_problems(make_uscc("Y2370302"))[0]


def test_region_positions() -> None:
    errors, _ = uscc_problems(make_uscc("91AB0302"))
    assert any("positions 3-8" in e for e in errors)
    assert uscc_problems(make_uscc("91990302"))[0] == []
    assert any("province" in w for w in uscc_problems(make_uscc("91990302"))[1])
    assert uscc_problems(make_uscc("11100000")) == ([], [])  # central authorities


def test_non_strings() -> None:
    assert EXCEL in uscc_problems(9.13703e17)[0][0]  # type: ignore[arg-type]
    assert uscc_problems(None)[0] == ["uscc: must be a string"]  # type: ignore[arg-type]


def test_excel_mangled() -> None:
    assert excel_mangled("9.13703E+17") and excel_mangled("9.13703e17")
    assert excel_mangled("913703021922038000.0")
    assert not excel_mangled("91370302MA3C4E5F6X") and not excel_mangled("913703021922038000")


# ---------------------------------------------------------------------------- targets


def test_demo_like_target_body_is_clean() -> None:
    assert check_body("target.added", target()) == ([], [])
    for industry in ("F", "F52", "F525", "F5251", "O8040", "E4890", "C1391", "H6210"):
        assert body_errors("target.added", target(industry=industry)) == [], industry


@pytest.mark.parametrize(("changes", "expected"), [
    ({"name": ""}, "name: is empty"),
    ({"name": " 有限公司"}, "name: has leading or trailing whitespace"),
    ({"name": "有限\u200b公司"}, "name: contains control or invisible characters"),
    ({"name": "x" * 201}, "name: has 201 characters"),
    ({"registry": "ZC-OTHER/F"}, "registry: must be '<dept>/<business line>'"),
    ({"registry": "ZC-SCJGJ/"}, "registry: the business line"),
    ({"registry": "ZC-SCJGJ/a b"}, "registry: the business line"),
    ({"industry": "F9999"}, "industry: division 99 is not in section F (51-52)"),
    ({"industry": "Z1234"}, "industry: must be a GB/T 4754-2017 code"),
    ({"industry": "f5299"}, "industry: must be a GB/T 4754-2017 code"),
    ({"industry": "F52991"}, "industry: must be a GB/T 4754-2017 code"),
    ({"region": "37030"}, "region: must be a 6-digit"),
    ({"region": 370302}, "region: must be a 6-digit"),
    ({"risk": "E"}, "risk: 'E' is not a risk level"),
    ({"status": "在营"}, "status: '在营' is not a registration status"),
    ({"unit": None}, "unit: missing required field"),
    ({"dept": "ZC SCJGJ"}, "dept: must be a department code"),
    ({"reg_no": "37030200001234"}, "reg_no: must be the 15-digit"),
    ({"reg_no": 370302000012348}, "reg_no: Excel converted this code"),
    ({"reg_no": "3.70302E+14"}, "reg_no: Excel converted this code"),
    ({"uscc": "91370321MAU34K4U1J"}, "uscc: wrong check character"),
])
def test_target_field_errors(changes: dict[str, Any], expected: str) -> None:
    assert expected in errors_for("target.added", target(**changes))


def test_region_and_reg_no_warnings() -> None:
    assert body_errors("target.added", target(region="990302")) == []
    assert any(w.startswith("region:") for w in body_warnings("target.added",
                                                             target(region="990302")))
    assert check_body("target.added", target(reg_no="110108000000016")) == ([], [])
    warnings = body_warnings("target.added", target(reg_no="110108000000017"))
    assert body_errors("target.added", target(reg_no="110108000000017")) == []
    assert warnings == ["reg_no: the check digit (ISO 7064 MOD 11,10) does not match; "
                        "kept as given"]
    assert reg_no_check_ok("370302000012348") and not reg_no_check_ok("37030200001234")


def test_missing_fields_each_named() -> None:
    errors = body_errors("target.added", {"uscc": make_uscc(), "dept": "ZC-SCJGJ"})
    missing = {e.split(":")[0] for e in errors if e.endswith("missing required field")}
    assert missing == {"name", "registry", "industry", "region", "risk", "status", "unit"}


def test_unknown_field_is_a_warning() -> None:
    body = target(address="淄博市淄川区般阳路 1 号", legal_form="有限责任公司")
    assert body_errors("target.added", body) == []
    assert body_warnings("target.added", body) == [
        "address: not part of the body layout (kept, covered by the signature)"]


@pytest.mark.parametrize("key", ["id_card", "id_number", "身份证", "phone", "mobile", "tel",
                                 "电话", "手机", "home_address", "住址", "address_of_person",
                                 "legal_rep_mobile", "法定代表人身份证号", "contact-phone",
                                 "ID_Card", "负责人联系电话"])
def test_personal_data_keys_rejected(key: str) -> None:
    for type_, body in (("target.added", target()), ("inspector.added", inspector()),
                        ("target.updated", {"uscc": make_uscc(), "dept": "ZC-SCJGJ"})):
        body[key] = "13800000000"
        assert f"{key}: personal data not allowed in the log" in body_errors(type_, body)


def test_personal_data_nested_and_harmless_keys() -> None:
    body = target(contact={"name": "x", "phone": "1"}, people=[{"id_card": "1"}])
    errors = body_errors("target.added", body)
    assert "contact.phone: personal data not allowed in the log" in errors
    assert "people[0].id_card: personal data not allowed in the log" in errors
    for key in ("address", "hotel", "id", "cert_no", "uscc", "telegram_channel", "registry"):
        assert not is_personal_key(key), key


def test_target_updated_and_removed() -> None:
    key = {"uscc": make_uscc(), "dept": "ZC-SCJGJ"}
    assert check_body("target.updated", {**key, "risk": "C"}) == ([], [])
    assert "risk: 'X' is not a risk level" in errors_for("target.updated", {**key, "risk": "X"})
    assert body_errors("target.updated", key) == []
    assert body_warnings("target.updated", key) == ["body: the update changes no field"]
    assert "name: missing" not in errors_for("target.updated", key)
    for reason in TARGET_REMOVAL_REASONS:
        assert check_body("target.removed", {**key, "reason": reason}) == ([], [])
    assert "reason: 'closed' is not a target removal reason" in errors_for(
        "target.removed", {**key, "reason": "closed"})
    assert "reason: missing required field" in errors_for("target.removed", key)


def test_status_words() -> None:
    for word in ("存续", "在业", "迁出", "停业", "注销", "吊销"):
        assert word in TARGET_STATUSES
        assert body_errors("target.added", target(status=word)) == []
    assert canonical_status("存续(在营、开业、在册)") == "存续"
    assert canonical_status("吊销,未注销") == "吊销"
    assert canonical_status("吊销,已注销") == "注销"
    assert canonical_status("注销(已清算)") == "注销"
    assert canonical_status("营业中") is None


# ---------------------------------------------------------------------------- inspectors


def test_inspector_added_clean() -> None:
    assert check_body("inspector.added", inspector()) == ([], [])
    assert check_body("inspector.added", inspector(qualifications=[], expert=True)) == ([], [])
    for cert in ("鲁C0301-0012", "鲁淄2019001", "37030219001", "A1", "X" * 31 + "1"):
        assert body_errors("inspector.added", inspector(cert_no=cert)) == [], cert


@pytest.mark.parametrize(("changes", "expected"), [
    ({"cert_no": "鲁 C123"}, "cert_no: must be at most 32 characters"),
    ({"cert_no": "c0301"}, "cert_no: must be at most 32"),
    ({"cert_no": "X" * 32 + "1"}, "cert_no: must be at most 32"),
    ({"cert_no": "ABC"}, "cert_no: must be at most 32"),
    ({"cert_no": "C/0301"}, "cert_no: must be at most 32"),
    ({"cert_no": "淄C0301"}, "cert_no: must be at most 32"),
    ({"cert_no": ""}, "cert_no: must be at most 32"),
    ({"name": "李"}, "name: has 1 characters, needs at least 2"),
    ({"name": "李" * 21}, "name: has 21 characters, at most 20"),
    ({"qualifications": "general"}, "qualifications: must be a list"),
    ({"qualifications": ["a", "a"]}, "qualifications[1]: 'a' is listed twice"),
    ({"qualifications": ["a b"]}, "qualifications[0]: must be a matter id"),
    ({"valid_from": "2024/01/01"}, "valid_from: must be an ISO date"),
    ({"valid_to": "2024-02-30"}, "valid_to: '2024-02-30' is not a calendar date"),
    ({"valid_to": "2023-12-31"}, "valid_to: 2023-12-31 is before valid_from 2024-01-01"),
    ({"expert": "否"}, "expert: must be true or false"),
    ({"expert": 0}, "expert: must be true or false"),
    ({"unit": None}, "unit: missing required field"),
    ({"qualifications": None}, "qualifications: missing required field"),
])
def test_inspector_field_errors(changes: dict[str, Any], expected: str) -> None:
    assert expected in errors_for("inspector.added", inspector(**changes))


def test_inspector_updated_and_removed() -> None:
    key = {"cert_no": "370302123456", "dept": "ZC-SCJGJ"}
    assert check_body("inspector.updated", {**key, "valid_to": "2030-01-01"}) == ([], [])
    assert "valid_to: 2020-01-01 is before" in errors_for(
        "inspector.updated", {**key, "valid_from": "2021-01-01", "valid_to": "2020-01-01"})
    for reason in INSPECTOR_REMOVAL_REASONS:
        assert check_body("inspector.removed", {**key, "reason": reason}) == ([], [])
    assert "reason:" in errors_for("inspector.removed", {**key, "reason": "fired"})


# ---------------------------------------------------------------------------- conflicts


def test_conflict_declared() -> None:
    body = {"cert_no": "370302123456", "uscc": make_uscc(), "dept": "ZC-SCJGJ",
            "relation": "kin", "declared_on": "2026-03-01"}
    assert check_body("conflict.declared", body) == ([], [])
    for relation in CONFLICT_RELATIONS:
        assert body_errors("conflict.declared", {**body, "relation": relation}) == []
    assert "relation: 'friend' is not a relation code" in errors_for(
        "conflict.declared", {**body, "relation": "friend"})
    assert "declared_on: must be an ISO date" in errors_for(
        "conflict.declared", {**body, "declared_on": "2026-3-1"})
    assert "uscc: wrong check character" in errors_for(
        "conflict.declared", {**body, "uscc": "91370321MAU34K4U1J"})
    withdrawn = {k: body[k] for k in ("cert_no", "uscc", "dept")}
    assert check_body("conflict.withdrawn", {**withdrawn, "reason": "ended"}) == ([], [])


def test_unhandled_types_and_bilingual_problems() -> None:
    assert body_errors("plan.filed", {"anything": 1}) == []
    assert body_warnings("department.registered", {"phone": "1"}) == []
    errors, _ = check_body("target.added", target(risk="E"))
    assert errors[0].field == "risk" and "风险等级" in errors[0].zh
    assert str(errors[0]).startswith("risk: ")


# ---------------------------------------------------------------------------- fast path
# check_body answers clean bodies from a fast path and falls back to _check_body_full (the
# rules in full) at the first doubt; the two must agree on every body, messages included.

_FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
_HAN = "淄博王伟商贸有限公司般阳路街道市场监管所昆仑镇李娜食品药品餐饮"
_TEXT = _HAN + "ABCxyz0189()（）-·、 "
_TOKEN = "abcdefghijklmnopqrstuvwxyzABC0123456789-_.·事项"
_CERT_TAIL = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"
_DEPTS = ["ZC-SCJGJ", "ZC-SWJ", "A", "淄川区市场监管局", "x" * 64, "ZC_TJJ.2", "ZC\u200bX"]


class _Str(str):
    """A str subclass: the fast path leaves it to the full rules."""


def _pick(rng: random.Random, alphabet: str, lo: int, hi: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def _text_value(rng: random.Random, lo: int, hi: int) -> str:
    """Printable text without surrounding whitespace, lo..hi characters (often at a bound)."""
    n = rng.choice([lo, hi, rng.randint(lo, hi), rng.randint(lo, min(hi, lo + 12))])
    text = _pick(rng, _TEXT, n, n)
    return text if text == text.strip() else rng.choice(_HAN) * n


def _rand_uscc(rng: random.Random) -> str:
    first = rng.choice(list(USCC_AUTHORITIES))
    second = rng.choice(list(USCC_AUTHORITIES[first][1]))
    province = rng.choice([*PROVINCE_CODES, "10", "99"] if rng.random() < 0.1 else
                          list(PROVINCE_CODES))
    digits = "0123456789"
    org8 = _pick(rng, digits + "E", 8, 8) if rng.random() < 0.2 else _pick(rng, USCC_CHARSET, 8, 8)
    return make_uscc(first + second + province + _pick(rng, digits, 4, 4), org8,
                     org_ok=rng.random() < 0.95)


def _rand_industry(rng: random.Random) -> str:
    section = rng.choice(list(INDUSTRY_SECTIONS))
    first, last, _ = INDUSTRY_SECTIONS[section]
    division = f"{rng.randint(first, last):02d}"
    return section + rng.choice(["", division, division + _pick(rng, "0123456789", 1, 2)])


def _rand_reg_no(rng: random.Random) -> str:
    head = _pick(rng, "0123456789", 14, 14)
    return next(head + d for d in "0123456789" if reg_no_check_ok(head + d))


def _rand_cert(rng: random.Random) -> str:
    prefix = rng.choice(["", rng.choice(PROVINCE_ABBREVIATIONS) + _pick(rng, _HAN, 0, 3)])
    size = rng.choice([32, rng.randint(len(prefix) + 1, 32)]) - len(prefix)  # 32 at most
    tail = rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") + _pick(rng, _CERT_TAIL, size - 1,
                                                                 size - 1)
    if not any(c.isdigit() for c in tail):
        tail = tail[:-1] + rng.choice("0123456789")
    return prefix + tail


def _rand_date(rng: random.Random) -> str:
    return (date(2015, 1, 1) + timedelta(days=rng.randrange(6000))).isoformat()


def _valid_body(rng: random.Random, type_: str) -> dict[str, Any]:
    """A random body of ``type_`` meant to pass every rule (a few carry a warning)."""
    dept = rng.choice(_DEPTS)
    if type_.startswith("target."):
        industry = _rand_industry(rng)
        line = rng.choice([industry[0], _pick(rng, _TOKEN, 1, 64), "食品经营"])
        full: dict[str, Any] = {
            "uscc": _rand_uscc(rng), "name": _text_value(rng, 1, 200), "dept": dept,
            "registry": f"{dept}/{line}", "industry": industry,
            "region": rng.choice([p for p in PROVINCE_CODES if p != "10"])
            + _pick(rng, "0123456789", 4, 4),
            "risk": rng.choice("ABCD"), "status": rng.choice(list(TARGET_STATUSES)),
            "unit": _text_value(rng, 1, 100)}
        if rng.random() < 0.3:
            full["reg_no"] = _rand_reg_no(rng)
        if rng.random() < 0.3:
            full["legal_form"] = _text_value(rng, 1, 50)
        keys = {"uscc": full["uscc"], "dept": dept}
        if type_ == "target.removed":
            return {**keys, "reason": rng.choice(list(TARGET_REMOVAL_REASONS))}
        if type_ == "target.updated":
            fields = [k for k in full if k not in keys]
            return {**keys, **{k: full[k] for k in rng.sample(fields, rng.randint(1, 4))}}
        return full
    if type_.startswith("inspector."):
        valid_from = _rand_date(rng)
        full = {"cert_no": _rand_cert(rng), "name": _text_value(rng, 2, 20), "dept": dept,
                "unit": _text_value(rng, 1, 100),
                "qualifications": list(dict.fromkeys(_pick(rng, _TOKEN, 1, 64)
                                                     for _ in range(rng.randint(0, 5)))),
                "valid_from": valid_from,
                "valid_to": rng.choice([valid_from, max(valid_from, _rand_date(rng))]),
                "expert": rng.random() < 0.1}
        keys = {"cert_no": full["cert_no"], "dept": dept}
        if type_ == "inspector.removed":
            return {**keys, "reason": rng.choice(list(INSPECTOR_REMOVAL_REASONS))}
        if type_ == "inspector.updated":
            fields = [k for k in full if k not in keys]
            return {**keys, **{k: full[k] for k in rng.sample(fields, rng.randint(1, 4))}}
        return full
    keys = {"cert_no": _rand_cert(rng), "uscc": _rand_uscc(rng), "dept": dept}
    if type_ == "conflict.withdrawn":
        return {**keys, "reason": rng.choice(list(CONFLICT_WITHDRAWAL_REASONS))}
    return {**keys, "relation": rng.choice(list(CONFLICT_RELATIONS)),
            "declared_on": _rand_date(rng)}


def _value_mutations(value: Any) -> list[Any]:
    """Ways a field's value goes wrong (or stays right in another form)."""
    out: list[Any] = ["", " ", None, 0, 370302, 9.13703e17, 1.5, True, [], {}, ["x"],
                      {"phone": "1"}, [{"id_card": "1"}], {"note": "x"}, "9.13703E+17",
                      "913703021922038000", "913703021922038000.0", "3.70302E+14",
                      "2024-02-30", "2024/01/01", "2024-1-1", "２０２４-01-01", "0000-01-01"]
    if isinstance(value, str) and value:
        ch = USCC_CHARSET
        out += [" " + value, value + " ", value + "\u200b", value + "\t", "\u3000" + value,
                value[:1] + "\u3000" + value[1:], value[:-1], value + value[-1], value * 3,
                value * 70, value.translate(_FULLWIDTH), value.lower(), value.upper(),
                value.swapcase(), value[:1] + " " + value[1:], value[:1] + "/" + value[1:],
                value[:1] + ";" + value[1:], value + "/x", value[:-1] + "E",
                value[:-1] + ch[(ch.find(value[-1]) + 1) % len(ch)],
                ch[(ch.find(value[0]) + 1) % len(ch)] + value[1:],
                value[:1] + "I" + value[2:], value[:2] + "AB" + value[4:],
                value[:2] + "10" + value[4:], value[:2] + "99" + value[4:],
                "10" + value[2:], "99" + value[2:],
                value[:8] + "0" * 9 + value[17:], _Str(value), value[::-1]]
    if isinstance(value, list):
        out += [value + value[:1], [*value, "a b"], [*value, 1], [*value, ["x"]], value[:-1],
                tuple(value), [*value, "x" * 65], [*value, {"phone": "1"}]]
    if isinstance(value, bool):
        out += [not value, int(value), "true"]
    return out


def _body_mutations(body: dict[str, Any], rng: random.Random) -> Iterator[Any]:
    """Whole-body changes: fields missing, unknown, personal, out of place; not a dict."""
    for key in body:
        yield {k: v for k, v in body.items() if k != key}
    extras: list[tuple[Any, Any]] = [
        ("address", "淄博市淄川区般阳路 1 号"), ("phone", "13800000000"), ("id_card", "1"),
        ("法定代表人身份证号", "1"), ("contact", {"name": "x", "phone": "1"}),
        ("people", [{"id_card": "1"}]), ("note", {"x": [1, {"mobile": "2"}]}), (1, "x"),
        ("reg_no", _rand_reg_no(rng)), ("reg_no", "110108000000017"), ("reg_no", None),
        ("reg_no", 370302000012348), ("legal_form", "有限责任公司"), ("legal_form", None),
        ("legal_form", "x" * 51), ("valid_from", "2030-01-01"), ("valid_to", "2000-01-01"),
        ("registry", "ZC-SCJGJ/F"), ("reason", "error"), ("uscc", make_uscc()),
        ("expert", True), ("qualifications", []), ("name", "李娜")]
    for key, value in extras:
        yield {**body, key: value}
    yield {}
    yield [body]
    yield MappingProxyType(body)
    yield {k: body[k] for k in reversed(list(body))}


_TYPES = ["target.added", "target.updated", "target.removed", "inspector.added",
          "inspector.updated", "inspector.removed", "conflict.declared", "conflict.withdrawn"]


def _assert_same(type_: str, body: Any) -> tuple[list[Any], list[Any]]:
    full = _check_body_full(type_, body)
    assert check_body(type_, body) == full, (type_, body)
    assert body_errors(type_, body) == [str(p) for p in full[0]], (type_, body)
    assert body_warnings(type_, body) == [str(p) for p in full[1]], (type_, body)
    return full


def test_fast_path_agrees_with_the_full_rules() -> None:
    rng = random.Random(32100)
    checked = clean_fast = clean_full = 0
    for type_ in _TYPES:
        fast: Callable[[object], bool] = registry._CLEAN[type_]
        for _ in range(40):  # valid bodies: the fast path must take them
            body = _valid_body(rng, type_)
            full = _assert_same(type_, body)
            assert fast(body) == (full == ([], [])), (type_, body, full)
            checked += 1
        for i in range(4):  # every field mutated every way, on fresh bodies
            base = _valid_body(rng, type_)
            for key in base:
                for value in _value_mutations(base[key]):
                    body = _valid_body(rng, type_) if i % 2 else dict(base)
                    if key in body or i % 4 == 1:
                        body[key] = value
                    full = _assert_same(type_, body)
                    clean_full += full == ([], [])
                    clean_fast += fast(body)
                    checked += 1
            for body in _body_mutations(base, rng):
                _assert_same(type_, body)
                checked += 1
        for _ in range(60):  # two or three faults at once
            body = _valid_body(rng, type_)
            for key in rng.sample(list(body), min(len(body), rng.randint(2, 3))):
                body[key] = rng.choice(_value_mutations(body[key]))
            _assert_same(type_, body)
            checked += 1
    assert checked > 3000
    # Some mutations keep a body valid (a longer but still valid name, ...): the fast path
    # takes most of those too, and never one the full rules fault.
    assert 0 < clean_fast <= clean_full


def test_fast_uscc_matches_check_uscc() -> None:
    rng = random.Random(31)
    excel = 0
    for i in range(4000):
        code = _rand_uscc(rng)
        if i % 2:  # a character or two replaced, mostly with the check character recomputed
            chars = list(code)
            for _ in range(rng.randint(1, 2)):
                chars[rng.randrange(18)] = rng.choice(USCC_CHARSET + "IOSVZ a٣Ａ.-")
            code = "".join(chars)
            if rng.random() < 0.8 and all(c in USCC_CHARSET for c in code[:17]):
                code = code[:17] + uscc_check_char(code[:17])
        elif i % 7 == 0:  # positions 9-17 all digits
            code = code[:8] + _pick(rng, "0123456789", 9, 9) + code[17]
            code = code[:17] + uscc_check_char(code[:17])
        full = check_uscc(code)
        assert registry._uscc_ok(code) == (full == ([], [])), (code, full)
        excel += any(EXCEL in str(p) for p in full[0])
    # All digits but one E, with both check characters right: Excel's pattern, an error.
    digits = "0123456789"
    found = 0
    for _ in range(20_000):
        org = _pick(rng, digits, 3, 3) + "E" + _pick(rng, digits, 4, 4)
        code = make_uscc("91370302", org)
        if code[16:].isdigit():
            assert excel_mangled(code) and not registry._uscc_ok(code)
            assert _assert_same("target.added", target(uscc=code))[0]
            found += 1
    assert found and excel


def test_fast_path_tables_match_the_layouts() -> None:
    layouts = registry._LAYOUTS
    assert layouts["target.added"].required == registry._TARGET_ADDED_KEYS
    assert set(layouts["target.added"].rules) == registry._TARGET_ADDED_KNOWN
    assert layouts["inspector.added"].required == registry._INSPECTOR_ADDED_KEYS
    assert set(registry._INSPECTOR_ADDED_KEYS) == set(layouts["inspector.added"].rules)
    assert set(registry._CLEAN) == set(layouts)
    for type_, fast in registry._FAST.items():
        assert set(fast.strings) == set(fast.others) == set(layouts[type_].rules)
        assert fast.required == set(layouts[type_].required)
    assert not any(is_personal_key(k) for layout in layouts.values() for k in layout.rules)


def test_fast_path_caches_only_short_values() -> None:
    caches = [registry._dept_ok, registry._registry_head, registry._industry_ok,
              registry._region_ok, registry._date_ok, registry._UNIT_OK,
              registry._LEGAL_FORM_OK, registry._tokens_cached]
    huge = "x" * 100_000
    rng = random.Random(5)
    for type_ in _TYPES:
        changes: list[tuple[str, Any]] = [
            (key, huge) for key in ("dept", "registry", "industry", "region", "unit",
                                    "legal_form", "valid_from", "valid_to", "declared_on")]
        changes += [("qualifications", [huge, "a"]),
                    ("qualifications", [str(i) for i in range(17)])]
        for key, value in changes:
            body = _valid_body(rng, type_)
            for cache in caches:
                cache.cache_clear()
            _assert_same(type_, body)  # its short values are cached now
            sizes = [cache.cache_info().currsize for cache in caches]
            _assert_same(type_, {**body, key: value})
            assert [cache.cache_info().currsize for cache in caches] == sizes, (type_, key)
