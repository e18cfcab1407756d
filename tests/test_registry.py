"""Registry body rules (verifier._registry): USCC per GB 32100-2015, body layouts, codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier._registry import (
    CONFLICT_RELATIONS,
    INSPECTOR_REMOVAL_REASONS,
    TARGET_REMOVAL_REASONS,
    TARGET_STATUSES,
    USCC_AUTHORITIES,
    body_errors,
    body_warnings,
    canonical_status,
    check_body,
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
