"""Field rules for registry event bodies: targets, inspectors and conflict declarations.

Pure functions over a statement body. The ledger runs them before it writes a statement
and the verifier runs them again over the export, so what the log accepts is what the
auditor accepts. Nothing here normalises: a body is valid or not as it stands (the
importer, ``ledger._import``, does the NFKC normalisation and upper-casing before it
builds bodies). Every message names the field; :class:`Problem` carries it in English and
Chinese, ``body_errors`` and ``body_warnings`` give ``"field: message"`` strings.

Errors make a body unacceptable. Warnings are recorded and shown but never block a
statement (for example a USCC whose embedded organisation code fails its own MOD 11 check:
GB 32100 codes are valid by their own check character alone).

Body layouts (all values are strings unless said otherwise)
------------------------------------------------------------

``target.added`` (required: every field below except ``reg_no`` and ``legal_form``)

=============  =====================================================================
``uscc``       统一社会信用代码, GB 32100-2015 (see :func:`uscc_problems`); the stream key
``name``       名称, 1-200 characters
``dept``       the registering department's code (as in ``department.registered``)
``registry``   分库: ``"<dept>/<business line>"``, the sub-registry the target is drawn
               from; must start with the body's ``dept`` and a ``/``; the business line
               is 1-64 characters without whitespace or ``/``
``industry``   行业代码, GB/T 4754-2017: the section letter ``A``-``T`` alone or followed by
               the 2-digit division, 3-digit group or 4-digit class (``F``, ``F52``,
               ``F525``, ``F5251``); the division must belong to the section
``region``     行政区划代码, GB/T 2260: 6 ASCII digits; an unknown province prefix (first
               two digits) is a warning
``risk``       风险等级: ``"A"``, ``"B"``, ``"C"`` or ``"D"``
``status``     登记状态: one of :data:`TARGET_STATUSES`
``unit``       监管单位 (the supervising unit, e.g. a 市场监管所), 1-100 characters
``reg_no``     optional: the legacy 15-digit 注册号 (GS 15-2006), kept beside the USCC and
               never used as a key; a wrong ISO 7064 MOD 11,10 check digit is a warning
``legal_form`` optional: 组织形式 / 企业类型, 1-50 characters
=============  =====================================================================

``target.updated``: ``uscc``, ``dept`` and any subset of the other ``target.added``
fields, each checked as above (an update that changes no field is a warning).
``target.removed``: ``uscc``, ``dept``, ``reason`` from :data:`TARGET_REMOVAL_REASONS`.

``inspector.added`` (all required)

==================  ================================================================
``cert_no``         执法证号: at most 32 characters, no whitespace: an optional prefix of
                    1-4 Chinese characters starting with a province abbreviation
                    (:data:`PROVINCE_ABBREVIATIONS`, e.g. ``鲁`` or ``鲁淄``), then ASCII
                    digits, upper-case letters and ``-``, with at least one digit
                    (``370302190001``, ``鲁C0301-0012``); the stream key
``name``            姓名, 2-20 characters
``dept``            as above
``unit``            单位, 1-100 characters
``qualifications``  list of matter ids (strings of 1-64 characters without whitespace or
                    ``;``, no repeats); may be empty
``valid_from``      证件有效期起, ISO date ``YYYY-MM-DD``
``valid_to``        证件有效期止, ISO date, not before ``valid_from``
``expert``          bool: listed in the expert pool (是否专家)
==================  ================================================================

``inspector.updated``: ``cert_no``, ``dept`` and any subset of the other fields (the
``valid_from <= valid_to`` check needs both in the same body; the ledger compares with the
current view). ``inspector.removed``: ``cert_no``, ``dept``, ``reason`` from
:data:`INSPECTOR_REMOVAL_REASONS`.

``conflict.declared`` (all required): ``cert_no``, ``uscc``, ``dept``, ``relation`` from
:data:`CONFLICT_RELATIONS`, ``declared_on`` (ISO date). ``conflict.withdrawn``:
``cert_no``, ``uscc``, ``dept``, ``reason`` from :data:`CONFLICT_WITHDRAWAL_REASONS`.

Fields outside a layout are kept (SPEC.md section 6 lets bodies carry more) but draw a
warning. Personal data is an error anywhere in a registry body, nested objects included:
a key listed in :data:`PERSONAL_DATA_KEYS`, or one whose ``_``-separated words include
``phone``, ``mobile``, ``tel``, ``telephone``, ``cellphone``, ``idcard``, ``id`` with
``card``/``number``/``no``, or ``address`` with ``home``/``person``/``personal``/
``residential``, or whose Chinese text contains one of :data:`PERSONAL_DATA_WORDS`. An
entity's registered address (``address``) is public business data and allowed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._calendar import ISO_DATE_RE, iso_date
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

__all__ = [
    "CONFLICT_FIELDS",
    "CONFLICT_RELATIONS",
    "CONFLICT_WITHDRAWAL_REASONS",
    "EXCEL_NUMBER_EN",
    "EXCEL_NUMBER_ZH",
    "INDUSTRY_SECTIONS",
    "INSPECTOR_FIELDS",
    "INSPECTOR_REMOVAL_REASONS",
    "PERSONAL_DATA_KEYS",
    "PERSONAL_DATA_WORDS",
    "PROVINCE_ABBREVIATIONS",
    "PROVINCE_CODES",
    "RISK_LEVELS",
    "TARGET_FIELDS",
    "TARGET_REMOVAL_REASONS",
    "TARGET_STATUSES",
    "TARGET_STATUS_ALIASES",
    "USCC_AUTHORITIES",
    "FieldSpec",
    "Problem",
    "body_errors",
    "body_warnings",
    "canonical_status",
    "check_body",
    "check_uscc",
    "excel_mangled",
    "handled_types",
    "is_personal_key",
    "reg_no_check_ok",
    "uscc_problems",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about one field, in English and Chinese."""

    field: str
    en: str
    zh: str

    def __str__(self) -> str:
        return f"{self.field}: {self.en}"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One body field: its Chinese label, whether ``*.added`` needs it, what it holds."""

    name: str
    zh: str
    required: bool
    doc: str


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {s.name: s for s in specs}


TARGET_FIELDS: Mapping[str, FieldSpec] = _fields(
    FieldSpec("uscc", "统一社会信用代码", True, "GB 32100-2015 code; the stream key"),
    FieldSpec("name", "名称", True, "registered name, 1-200 characters"),
    FieldSpec("dept", "部门", True, "registering department code"),
    FieldSpec("registry", "分库", True, '"<dept>/<business line>"'),
    FieldSpec("industry", "行业代码", True, "GB/T 4754-2017: section letter + 0, 2, 3 or 4 digits"),
    FieldSpec("region", "行政区划代码", True, "GB/T 2260: 6 digits"),
    FieldSpec("risk", "风险等级", True, '"A".."D"'),
    FieldSpec("status", "登记状态", True, "one of TARGET_STATUSES"),
    FieldSpec("unit", "监管单位", True, "supervising unit, 1-100 characters"),
    FieldSpec("reg_no", "注册号", False, "legacy 15-digit registration number; never a key"),
    FieldSpec("legal_form", "组织形式", False, "legal form, 1-50 characters"),
)
INSPECTOR_FIELDS: Mapping[str, FieldSpec] = _fields(
    FieldSpec("cert_no", "执法证号", True, "law-enforcement certificate number; the stream key"),
    FieldSpec("name", "姓名", True, "2-20 characters"),
    FieldSpec("dept", "部门", True, "registering department code"),
    FieldSpec("unit", "单位", True, "1-100 characters"),
    FieldSpec("qualifications", "执法资质", True, "list of matter ids, may be empty"),
    FieldSpec("valid_from", "证件有效期起", True, "ISO date"),
    FieldSpec("valid_to", "证件有效期止", True, "ISO date, not before valid_from"),
    FieldSpec("expert", "是否专家", True, "bool"),
)
CONFLICT_FIELDS: Mapping[str, FieldSpec] = _fields(
    FieldSpec("cert_no", "执法证号", True, "the inspector"),
    FieldSpec("uscc", "统一社会信用代码", True, "the target"),
    FieldSpec("dept", "部门", True, "registering department code"),
    FieldSpec("relation", "关系", True, "one of CONFLICT_RELATIONS"),
    FieldSpec("declared_on", "申报日期", True, "ISO date"),
)

# 登记状态 as the 国家企业信用信息公示系统 (GSXT) shows it, reduced to its leading word:
# the commonly listed eight (存续, 在业, 吊销, 注销, 迁入, 迁出, 停业, 清算) plus 撤销
# (registration annulled). Value: English gloss.
TARGET_STATUSES: Mapping[str, str] = {
    "存续": "existing (in business, registered)",
    "在业": "operating",
    "迁入": "moved in",
    "迁出": "moved out",
    "停业": "business suspended",
    "清算": "in liquidation",
    "吊销": "licence revoked, not deregistered",
    "注销": "deregistered",
    "撤销": "registration annulled",
}
# Long forms and synonyms the GSXT shows ("存续（在营、开业、在册）" lists 在营, 开业 and 在册
# as 存续), after NFKC (full-width punctuation becomes ASCII). Used by the importer only; a
# body must hold the canonical word.
TARGET_STATUS_ALIASES: Mapping[str, str] = {
    "存续(在营、开业、在册)": "存续",
    "在营": "存续",
    "开业": "存续",
    "在册": "存续",
    "吊销,未注销": "吊销",
    "吊销未注销": "吊销",
    "吊销,已注销": "注销",
    "吊销已注销": "注销",
}
TARGET_REMOVAL_REASONS: Mapping[str, str] = {
    "deregistered": "注销",
    "revoked": "吊销",
    "moved_out": "迁出",
    "merged": "合并",
    "duplicate": "重复登记",
    "error": "录入错误",
}
INSPECTOR_REMOVAL_REASONS: Mapping[str, str] = {
    "retired": "退休",
    "transferred": "调离",
    "certificate_revoked": "执法证被注销或吊销",
    "certificate_expired": "执法证过期未换发",
    "error": "录入错误",
}
CONFLICT_RELATIONS: Mapping[str, str] = {
    "kin": "亲属关系",
    "former_employee": "曾在该单位任职",
    "shareholder": "持股或投资",
    "other": "其他利害关系",
}
CONFLICT_WITHDRAWAL_REASONS: Mapping[str, str] = {
    "ended": "利害关系已消除",
    "error": "录入错误",
}
RISK_LEVELS = ("A", "B", "C", "D")

# GB 32100-2015 table 1 (登记管理部门代码) and table 2 (机构类别代码), with the
# departments added to the code-assignment scheme since (2-4, 6-8, A, N).
USCC_AUTHORITIES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位",
                       "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所",
                       "4": "司法鉴定机构", "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构",
                   "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织",
                   "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}
# GB/T 2260 province-level prefixes; "10" is the national level used in USCCs of
# organisations registered by central authorities (e.g. 11100000...).
PROVINCE_CODES: Mapping[str, str] = {
    "10": "中央", "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江",
    "34": "安徽", "35": "福建", "36": "江西", "37": "山东", "41": "河南", "42": "湖北",
    "43": "湖南", "44": "广东", "45": "广西", "46": "海南", "50": "重庆", "51": "四川",
    "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃", "63": "青海",
    "64": "宁夏", "65": "新疆", "71": "台湾", "81": "香港", "82": "澳门",
}
PROVINCE_ABBREVIATIONS = ("京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼"
                          "渝川蜀贵黔云滇藏陕秦甘陇青宁新港澳台")
# GB/T 4754-2017 sections: (first division, last division, name).
INDUSTRY_SECTIONS: Mapping[str, tuple[int, int, str]] = {
    "A": (1, 5, "农、林、牧、渔业"), "B": (6, 12, "采矿业"), "C": (13, 43, "制造业"),
    "D": (44, 46, "电力、热力、燃气及水生产和供应业"), "E": (47, 50, "建筑业"),
    "F": (51, 52, "批发和零售业"), "G": (53, 60, "交通运输、仓储和邮政业"),
    "H": (61, 62, "住宿和餐饮业"), "I": (63, 65, "信息传输、软件和信息技术服务业"),
    "J": (66, 69, "金融业"), "K": (70, 70, "房地产业"), "L": (71, 72, "租赁和商务服务业"),
    "M": (73, 75, "科学研究和技术服务业"), "N": (76, 79, "水利、环境和公共设施管理业"),
    "O": (80, 82, "居民服务、修理和其他服务业"), "P": (83, 83, "教育"),
    "Q": (84, 85, "卫生和社会工作"), "R": (86, 90, "文化、体育和娱乐业"),
    "S": (91, 96, "公共管理、社会保障和社会组织"), "T": (97, 97, "国际组织"),
}

PERSONAL_DATA_KEYS = frozenset({
    "id_card", "id_number", "身份证", "身份证号", "身份证号码", "证件号码",
    "phone", "mobile", "tel", "telephone", "电话", "手机", "手机号", "联系电话",
    "home_address", "住址", "家庭住址", "address_of_person",
})
PERSONAL_DATA_WORDS = ("身份证", "证件号码", "电话", "手机", "住址", "家庭地址", "居住地")
_PERSONAL_TOKENS = frozenset({"phone", "mobile", "tel", "telephone", "cellphone", "idcard"})
_ID_PARTNERS = frozenset({"card", "number", "no"})
_ADDRESS_PARTNERS = frozenset({"home", "person", "personal", "residential"})

EXCEL_NUMBER_EN = ("Excel converted this code to a number (scientific notation / 15 "
                   "significant digits); format the column as text and re-export")
EXCEL_NUMBER_ZH = ("Excel 已把此代码转换为数字（科学计数法/只保留 15 位有效数字），"
                   "请将该列设为文本格式后重新导出")
_PERSONAL_EN = "personal data not allowed in the log"
_PERSONAL_ZH = "日志中不得记录个人信息"

_SCIENTIFIC_RE = re.compile(r"\A[0-9]+(?:\.[0-9]*)?[Ee][+-]?[0-9]+\Z")
_DECIMAL_RE = re.compile(r"\A[0-9]+\.[0-9]*\Z")
_INDUSTRY_RE = re.compile(r"\A([A-Z])([0-9]{2,4})?\Z")
_REGION_RE = re.compile(r"\A[0-9]{6}\Z")
_REG_NO_RE = re.compile(r"\A[0-9]{15}\Z")
_CERT_RE = re.compile(r"\A(?:[" + PROVINCE_ABBREVIATIONS + r"][\u4e00-\u9fff]{0,3})?"
                      r"[0-9A-Z][0-9A-Z-]*\Z")
_DEPT_RE = re.compile(r"\A[^\s/]{1,64}\Z")
_TOKEN_RE = re.compile(r"\A[^\s/;]{1,64}\Z")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co"})


class _Report:
    """Errors and warnings collected for one body."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def err(self, field: str, en: str, zh: str) -> None:
        self.errors.append(Problem(field, en, zh))

    def warn(self, field: str, en: str, zh: str) -> None:
        self.warnings.append(Problem(field, en, zh))


# ---------------------------------------------------------------------------- USCC


def excel_mangled(text: str) -> bool:
    """True when ``text`` looks like a code Excel turned into a number.

    Scientific notation (``9.13703E+17``, ``9.13703E17``) or a decimal point
    (``913703021922038000.0``, as written by tools that read the number back). An
    18-digit all-digit code ending in ``000`` is only mangled when its check character is
    also wrong; :func:`check_uscc` handles that case.
    """
    t = text.strip()
    return bool(_SCIENTIFIC_RE.match(t) or _DECIMAL_RE.match(t))


def _truncated_by_excel(code: str) -> bool:
    """An 18-digit code whose digits after the 15th are zero, and whose check fails."""
    if len(code) != 18 or not code.isascii() or not code.isdigit() or not code.endswith("000"):
        return False
    return uscc_check_char(code[:17]) != code[17]


def check_uscc(code: object, field: str = "uscc") -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) for a 统一社会信用代码 under GB 32100-2015.

    Errors: not a string; mangled by Excel; full-width characters or lower case (the
    rest is then checked on the NFKC, upper-cased form, so each fault is reported once);
    not 18 characters; characters outside ``0-9 A-H J-N P-R T U W-Y``; position 1 not a
    registration authority of :data:`USCC_AUTHORITIES` or position 2 not one of its entity
    types; positions 3-8 not 6 digits; a wrong check character. Warnings: positions 3-4
    not a known province prefix; the embedded GB 11714 organisation code (positions 9-17)
    failing its MOD 11 check.
    """
    r = _Report()
    if not isinstance(code, str):
        if isinstance(code, int | float) and not isinstance(code, bool):
            r.err(field, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
        else:
            r.err(field, "must be a string", "必须是字符串")
        return r.errors, r.warnings
    if excel_mangled(code):
        r.err(field, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
        return r.errors, r.warnings
    text = code
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        r.err(field, "full-width or compatibility characters; NFKC-normalise the code "
              "(e.g. Ａ -> A) before validating", "含全角或兼容字符，应先做 NFKC 规范化（如 Ａ→A）")
        text = folded
    if text != text.upper():
        r.err(field, "lower-case letters; GB 32100 codes are upper case",
              "含小写字母，统一社会信用代码应为大写")
        text = text.upper()
    if len(text) != 18:
        r.err(field, f"has {len(text)} characters, needs 18",
              f"长度为 {len(text)} 位，应为 18 位")
    bad = [(i, c) for i, c in enumerate(text) if c not in USCC_CHARSET]
    for i, c in bad:
        r.err(field, f"character {c!r} at position {i + 1} is not in the GB 32100 set "
              "(0-9 and A-Z without I, O, S, V, Z)",
              f"第 {i + 1} 位字符 {c!r} 不在 GB 32100 字符集内（不使用 I、O、S、V、Z）")
    if len(text) >= 2:
        _uscc_tables(r, field, text)
    if len(text) >= 8 and not _REGION_RE.match(text[2:8]):
        r.err(field, f"positions 3-8 (registration region code) {text[2:8]!r} are not 6 digits",
              f"第 3-8 位（登记管理机关行政区划码）{text[2:8]!r} 不是 6 位数字")
    elif len(text) >= 8 and text[2:4] not in PROVINCE_CODES:
        r.warn(field, f"positions 3-4 {text[2:4]!r} are not a GB/T 2260 province code",
               f"第 3-4 位 {text[2:4]!r} 不是 GB/T 2260 省级代码")
    if len(text) != 18 or bad:
        return r.errors, r.warnings
    expected = uscc_check_char(text[:17])
    if expected != text[17]:
        if _truncated_by_excel(text):
            r.err(field, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
        else:
            r.err(field, f"wrong check character: expected {expected!r}, found {text[17]!r}",
                  f"校验位错误：应为 {expected!r}，实为 {text[17]!r}")
        return r.errors, r.warnings
    org = text[8:17]
    org_expected = org_code_check_char(org[:8])
    if org_expected != org[8]:
        r.warn(field, f"the embedded organisation code {org} (positions 9-17) fails its "
               f"GB 11714 MOD 11 check (expected {org_expected!r}); accepted, the GB 32100 "
               "check character is correct",
               f"内含组织机构代码 {org}（第 9-17 位）不符合 GB 11714 校验（应为 "
               f"{org_expected!r}）；统一社会信用代码校验位正确，予以接受")
    return r.errors, r.warnings


def _uscc_tables(r: _Report, field: str, text: str) -> None:
    authority = USCC_AUTHORITIES.get(text[0])
    if authority is None:
        if text[0] in USCC_CHARSET:
            r.err(field, f"position 1 (registration authority) {text[0]!r} is not one of "
                  f"{''.join(USCC_AUTHORITIES)}",
                  f"第 1 位（登记管理部门代码）{text[0]!r} 不在 {'、'.join(USCC_AUTHORITIES)} 之中")
        return
    name, kinds = authority
    if text[1] not in kinds:
        r.err(field, f"position 2 (entity type) {text[1]!r} is not defined for registration "
              f"authority {text[0]} ({name}); allowed: {''.join(kinds)}",
              f"第 2 位（机构类别代码）{text[1]!r} 不属于登记管理部门 {text[0]}（{name}），"
              f"可用：{'、'.join(kinds)}")


def uscc_problems(code: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) as ``"uscc: message"`` strings; see :func:`check_uscc`."""
    errors, warnings = check_uscc(code)
    return [str(p) for p in errors], [str(p) for p in warnings]


# ---------------------------------------------------------------------------- fields


@functools.lru_cache(maxsize=4096)
def is_personal_key(key: str) -> bool:
    """True when a body key (or an import column header) names a person's ID, phone or
    home address."""
    k = unicodedata.normalize("NFKC", key).strip().lower()
    if k in PERSONAL_DATA_KEYS or any(w in k for w in PERSONAL_DATA_WORDS):
        return True
    tokens = set(re.split(r"[^0-9a-z]+", k))
    return bool(tokens & _PERSONAL_TOKENS
                or ("id" in tokens and tokens & _ID_PARTNERS)
                or ("address" in tokens and tokens & _ADDRESS_PARTNERS))


def _personal(r: _Report, value: object, path: str) -> None:
    """Personal-data keys anywhere in ``value`` (objects and lists, nested)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and is_personal_key(key):
                r.err(name, _PERSONAL_EN, _PERSONAL_ZH)
            elif isinstance(inner, Mapping | list):
                _personal(r, inner, name)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            if isinstance(inner, Mapping | list):
                _personal(r, inner, f"{path}[{i}]")


def _text(r: _Report, field: str, value: object, *, min_len: int = 1,
          max_len: int = 200) -> str | None:
    """A string of min_len..max_len characters without surrounding whitespace or
    control/invisible characters; None (after an error) otherwise."""
    if not isinstance(value, str):
        r.err(field, "must be a string", "必须是字符串")
        return None
    if value == "":
        r.err(field, "is empty", "为空")
        return None
    ok = True
    if value != value.strip():
        r.err(field, "has leading or trailing whitespace", "首尾含空白字符")
        ok = False
    if not value.isprintable() and any(unicodedata.category(c) in _INVISIBLE for c in value):
        r.err(field, "contains control or invisible characters", "含控制字符或不可见字符")
        ok = False
    if len(value) < min_len:
        r.err(field, f"has {len(value)} characters, needs at least {min_len}",
              f"长度为 {len(value)}，至少应为 {min_len}")
        ok = False
    if len(value) > max_len:
        r.err(field, f"has {len(value)} characters, at most {max_len} allowed",
              f"长度为 {len(value)}，最多 {max_len}")
        ok = False
    return value if ok else None


def _code(r: _Report, field: str, value: object, codes: Mapping[str, str] | tuple[str, ...],
          what_en: str, what_zh: str) -> None:
    if not isinstance(value, str):
        r.err(field, "must be a string", "必须是字符串")
    elif value not in codes:
        allowed = ", ".join(codes)
        r.err(field, f"{value!r} is not a {what_en}; allowed: {allowed}",
              f"{value!r} 不是有效的{what_zh}，可用：{'、'.join(codes)}")


def _iso_date(r: _Report, field: str, value: object) -> date | None:
    if not isinstance(value, str) or not ISO_DATE_RE.match(value):
        r.err(field, "must be an ISO date YYYY-MM-DD", "必须是 YYYY-MM-DD 格式的日期")
        return None
    parsed = iso_date(value)
    if parsed is None:
        r.err(field, f"{value!r} is not a calendar date", f"{value!r} 不是有效日期")
    return parsed


def _dept(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["dept"]
    if not isinstance(value, str) or not _DEPT_RE.match(value):
        r.err("dept", "must be a department code of 1-64 characters without whitespace or '/'",
              "必须是 1-64 个字符的部门代码，不含空白或 '/'")


def _uscc_field(r: _Report, body: Mapping[str, Any]) -> None:
    errors, warnings = check_uscc(body["uscc"])
    r.errors.extend(errors)
    r.warnings.extend(warnings)


def _registry(r: _Report, body: Mapping[str, Any]) -> None:
    value = _text(r, "registry", body["registry"], max_len=130)
    if value is None:
        return
    dept = body.get("dept")
    if isinstance(dept, str) and not value.startswith(dept + "/"):
        r.err("registry", f"must be '<dept>/<business line>' starting with {dept + '/'!r}",
              f"必须是“部门/业务条线”格式，以 {dept + '/'!r} 开头")
        return
    line = value.partition("/")[2]
    if not _DEPT_RE.match(line):
        r.err("registry", "the business line after '<dept>/' must be 1-64 characters "
              "without whitespace or '/'", "“部门/”之后的业务条线应为 1-64 个字符，不含空白或 '/'")


def _industry(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["industry"]
    m = _INDUSTRY_RE.match(value) if isinstance(value, str) else None
    if m is None or m.group(1) not in INDUSTRY_SECTIONS:
        r.err("industry", "must be a GB/T 4754-2017 code: a section letter A-T, alone or "
              "followed by 2, 3 or 4 digits (e.g. F5251)",
              "必须是 GB/T 4754-2017 行业代码：门类字母 A-T，可后接 2、3 或 4 位数字（如 F5251）")
        return
    if m.group(2):
        first, last, name = INDUSTRY_SECTIONS[m.group(1)]
        division = int(m.group(2)[:2])
        if not first <= division <= last:
            r.err("industry", f"division {m.group(2)[:2]} is not in section {m.group(1)} "
                  f"({first:02d}-{last:02d})",
                  f"大类 {m.group(2)[:2]} 不属于门类 {m.group(1)}"
                  f"（{name}，{first:02d}-{last:02d}）")


def _region(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["region"]
    if not isinstance(value, str) or not _REGION_RE.match(value):
        r.err("region", "must be a 6-digit GB/T 2260 code", "必须是 6 位 GB/T 2260 行政区划代码")
    elif value[:2] not in PROVINCE_CODES or value[:2] == "10":
        r.warn("region", f"{value!r} does not start with a GB/T 2260 province code",
               f"{value!r} 的前两位不是 GB/T 2260 省级代码")


def reg_no_check_ok(reg_no: str) -> bool:
    """True when a 15-digit 注册号 passes its ISO 7064 MOD 11,10 check digit (GS 15-2006)."""
    if not _REG_NO_RE.match(reg_no):
        return False
    p, s = 10, 0
    for ch in reg_no:
        s = p % 11 + int(ch)
        p = (s % 10 or 10) * 2
    return s % 10 == 1


def _reg_no(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["reg_no"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        r.err("reg_no", EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
    elif not isinstance(value, str):
        r.err("reg_no", "must be a string", "必须是字符串")
    elif excel_mangled(value):
        r.err("reg_no", EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
    elif not _REG_NO_RE.match(value):
        r.err("reg_no", "must be the 15-digit legacy registration number (注册号)",
              "必须是 15 位数字的注册号")
    elif not reg_no_check_ok(value):
        r.warn("reg_no", "the check digit (ISO 7064 MOD 11,10) does not match; kept as given",
               "校验位（ISO 7064 MOD 11,10）不符，按原样保留")


def _cert_no(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["cert_no"]
    if not isinstance(value, str):
        r.err("cert_no", "must be a string", "必须是字符串")
        return
    if not value or len(value) > 32 or not _CERT_RE.match(value) \
            or not any(c in "0123456789" for c in value):
        r.err("cert_no", "must be at most 32 characters without spaces: an optional Chinese "
              "prefix starting with a province abbreviation (e.g. 鲁), then digits, upper-case "
              "letters A-Z and '-', with at least one digit",
              "最多 32 个字符且不含空格：可选的以省份简称（如“鲁”）开头的汉字前缀，"
              "其后为数字、大写字母 A-Z 和“-”，至少含一位数字")


def _qualifications(r: _Report, body: Mapping[str, Any]) -> None:
    value = body["qualifications"]
    if not isinstance(value, list):
        r.err("qualifications", "must be a list of matter ids", "必须是事项编号列表")
        return
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _TOKEN_RE.match(item):
            r.err(f"qualifications[{i}]", "must be a matter id of 1-64 characters without "
                  "whitespace, '/' or ';'", "事项编号应为 1-64 个字符，不含空白、'/' 或 ';'")
        elif item in seen:
            r.err(f"qualifications[{i}]", f"{item!r} is listed twice", f"{item!r} 重复")
        else:
            seen.add(item)


def _expert(r: _Report, body: Mapping[str, Any]) -> None:
    if not isinstance(body["expert"], bool):
        r.err("expert", "must be true or false", "必须是 true 或 false")


def _text_rule(field: str, min_len: int, max_len: int) -> Callable[[_Report, Mapping[str, Any]],
                                                                   None]:
    def rule(r: _Report, body: Mapping[str, Any]) -> None:
        _text(r, field, body[field], min_len=min_len, max_len=max_len)
    return rule


def _code_rule(field: str, codes: Mapping[str, str] | tuple[str, ...], what_en: str,
               what_zh: str) -> Callable[[_Report, Mapping[str, Any]], None]:
    def rule(r: _Report, body: Mapping[str, Any]) -> None:
        _code(r, field, body[field], codes, what_en, what_zh)
    return rule


def _date_rule(field: str) -> Callable[[_Report, Mapping[str, Any]], None]:
    def rule(r: _Report, body: Mapping[str, Any]) -> None:
        _iso_date(r, field, body[field])
    return rule


_Rule = Callable[[_Report, Mapping[str, Any]], None]
_STATUS_RULE = _code_rule("status", TARGET_STATUSES, "registration status", "登记状态")

_TARGET_RULES: dict[str, _Rule] = {
    "uscc": _uscc_field,
    "name": _text_rule("name", 1, 200),
    "dept": _dept,
    "registry": _registry,
    "industry": _industry,
    "region": _region,
    "risk": _code_rule("risk", RISK_LEVELS, "risk level", "风险等级"),
    "status": _STATUS_RULE,
    "unit": _text_rule("unit", 1, 100),
    "reg_no": _reg_no,
    "legal_form": _text_rule("legal_form", 1, 50),
}
_INSPECTOR_RULES: dict[str, _Rule] = {
    "cert_no": _cert_no,
    "name": _text_rule("name", 2, 20),
    "dept": _dept,
    "unit": _text_rule("unit", 1, 100),
    "qualifications": _qualifications,
    "valid_from": _date_rule("valid_from"),
    "valid_to": _date_rule("valid_to"),
    "expert": _expert,
}
_CONFLICT_RULES: dict[str, _Rule] = {
    "cert_no": _cert_no,
    "uscc": _uscc_field,
    "dept": _dept,
    "relation": _code_rule("relation", CONFLICT_RELATIONS, "relation code", "关系代码"),
    "declared_on": _date_rule("declared_on"),
}


@dataclass(frozen=True, slots=True)
class _Layout:
    required: tuple[str, ...]
    rules: Mapping[str, _Rule]  # every known field, required or not
    change: bool = False  # *.updated: at least one field besides the keys is expected


def _end_rules(keys: Mapping[str, _Rule], codes: Mapping[str, str],
               what_en: str, what_zh: str) -> dict[str, _Rule]:
    return {**keys, "reason": _code_rule("reason", codes, what_en, what_zh)}


_LAYOUTS: dict[str, _Layout] = {
    "target.added": _Layout(tuple(f for f, s in TARGET_FIELDS.items() if s.required),
                            _TARGET_RULES),
    "target.updated": _Layout(("uscc", "dept"), _TARGET_RULES, change=True),
    "target.removed": _Layout(("uscc", "dept", "reason"), _end_rules(
        {"uscc": _uscc_field, "dept": _dept}, TARGET_REMOVAL_REASONS,
        "target removal reason", "移出原因")),
    "inspector.added": _Layout(tuple(INSPECTOR_FIELDS), _INSPECTOR_RULES),
    "inspector.updated": _Layout(("cert_no", "dept"), _INSPECTOR_RULES, change=True),
    "inspector.removed": _Layout(("cert_no", "dept", "reason"), _end_rules(
        {"cert_no": _cert_no, "dept": _dept}, INSPECTOR_REMOVAL_REASONS,
        "inspector removal reason", "移出原因")),
    "conflict.declared": _Layout(tuple(CONFLICT_FIELDS), _CONFLICT_RULES),
    "conflict.withdrawn": _Layout(("cert_no", "uscc", "dept", "reason"), _end_rules(
        {"cert_no": _cert_no, "uscc": _uscc_field, "dept": _dept},
        CONFLICT_WITHDRAWAL_REASONS, "withdrawal reason", "撤回原因")),
}


def handled_types() -> tuple[str, ...]:
    """The event types :func:`check_body` validates."""
    return tuple(_LAYOUTS)


def canonical_status(text: str) -> str | None:
    """The :data:`TARGET_STATUSES` word for a status as written (after NFKC), or None.

    Accepts the canonical words, :data:`TARGET_STATUS_ALIASES`, and a canonical word
    followed by a parenthesised remark (``存续(在营、开业、在册)``).
    """
    if text in TARGET_STATUSES:
        return text
    alias = TARGET_STATUS_ALIASES.get(text)
    if alias is not None:
        return alias
    head = text.split("(", 1)[0].strip()
    return head if head != text and head in TARGET_STATUSES else None


def check_body(type_: str, body: Mapping[str, Any]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) for a registry body; ([], []) for a type not handled here.

    A clean body (the common case) is recognised by the fast path (``_CLEAN``); for
    anything else, :func:`_check_body_full` gives every message.
    """
    clean = _CLEAN.get(type_)
    if clean is not None and clean(body):
        return [], []
    return _check_body_full(type_, body)


def _check_body_full(type_: str, body: Mapping[str, Any]) -> tuple[list[Problem],
                                                                    list[Problem]]:
    """The field rules in full: what :func:`check_body` returns for a body that is not
    clean, and its reference (the fast path must agree with it on every body)."""
    layout = _LAYOUTS.get(type_)
    if layout is None:
        return [], []
    r = _Report()
    if not isinstance(body, Mapping):
        r.err("body", "must be an object", "必须是对象")
        return r.errors, r.warnings
    _personal(r, body, "")
    personal = {p.field for p in r.errors}
    for name in layout.required:
        if name not in body:
            r.err(name, "missing required field", "缺少必填字段")
    for name in body:
        if name in personal:
            continue
        rule = layout.rules.get(name)
        if rule is not None:
            rule(r, body)
        else:
            r.warn(str(name), "not part of the body layout (kept, covered by the signature)",
                   "不属于规定的字段（予以保留，受签名保护）")
    if layout.change and not set(body) - set(layout.required):
        r.warn("body", "the update changes no field", "本次更新未修改任何字段")
    if type_.startswith("inspector."):
        _date_order(r, body)
    return r.errors, r.warnings


def _date_order(r: _Report, body: Mapping[str, Any]) -> None:
    start, end = body.get("valid_from"), body.get("valid_to")
    if isinstance(start, str) and isinstance(end, str) and ISO_DATE_RE.match(start) \
            and ISO_DATE_RE.match(end) and end < start:
        r.err("valid_to", f"{end} is before valid_from {start}",
              f"{end} 早于证件有效期起 {start}")


def body_errors(type_: str, body: dict[str, Any]) -> list[str]:
    """Errors as ``"field: message"`` strings; [] for types not handled here."""
    clean = _CLEAN.get(type_)
    if clean is not None and clean(body):
        return []
    return [str(p) for p in _check_body_full(type_, body)[0]]


def body_warnings(type_: str, body: dict[str, Any]) -> list[str]:
    """Warnings as ``"field: message"`` strings; [] for types not handled here."""
    clean = _CLEAN.get(type_)
    if clean is not None and clean(body):
        return []
    return [str(p) for p in _check_body_full(type_, body)[1]]


# ---------------------------------------------------------------------------- fast path
#
# The ledger (before it writes) and the auditor (replaying an export) run check_body once
# per registry entry, and nearly every body is clean. _CLEAN[type] answers one question:
# would _check_body_full find nothing at all, no error and no warning? It asks only tests
# that imply the full rule has nothing to say (exact types, precompiled patterns, sets,
# cached answers for values that repeat across a registry) and answers False at the first
# doubt, after which the full rules run. So it can skip work but never change a verdict or
# a message; tests/test_registry.py holds both paths to the same answers over generated
# and mutated bodies. Values are tested by exact type (``type(v) is str``): a
# subclass takes the full path, and the caches only ever see plain strings and tuples of
# them. Values that are unique per entry (USCC, certificate number, name) are not cached.
# A cached test is only asked about a value no longer than its field allows (the callers
# check the length first), so however large an export's values, each cache holds at most
# 4096 strings of at most 130 characters (the matter-list cache: 1024 lists of at most 16
# ids of at most 64 characters).

_cache = functools.lru_cache(maxsize=4096)

# USCC: positions 1-2 an authority and one of its entity types, 3-4 a province-level code
# (no warning), 5-8 digits, 9-18 from the GB 32100 set. Such a code is ASCII, hence stable
# under NFKC, and upper case, so only the two check characters and the Excel pattern (all
# digits but one E) remain.
_USCC_PREFIXES = frozenset(a + k + p for a, (_, kinds) in USCC_AUTHORITIES.items()
                           for k in kinds for p in PROVINCE_CODES)  # positions 1-4
# GB 32100 check: sum(value_i * 3**i) mod 31 over positions i = 0..16. Read the reversed
# body as a base-34 number (34 = 3 mod 31), each character translated to the int() digit
# of its value, and one int() call does the weighted sum. Every byte outside the set
# becomes "!", which int() refuses: the same call checks positions 1-17 against the set.
_USCC_DIGITS = bytes(b"0123456789ABCDEFGHIJKLMNOPQRSTU"[USCC_CHARSET.index(chr(b))]
                     if chr(b) in USCC_CHARSET else ord("!") for b in range(256))
_USCC_CHECK = tuple(USCC_CHARSET[(31 - t) % 31] for t in range(31))
# GB 11714 check: sum(value_i * w_i) mod 11 with w = (3, 7, 9, 10, 5, 8, 4, 2), which is
# 2**(8 - i) mod 11: twice the 8 characters read as a base-35 number (35 = 2 mod 11). int()
# gives digits and letters their GB 11714 values, and base 35 takes every letter of the
# GB 32100 set (it has no Z).
_ORG_CHECK = tuple("X" if t == 1 else str((11 - t) % 11) for t in range(11))
# _CERT_RE with "at least one ASCII digit" folded in (the Chinese prefix holds none).
_CERT_FAST_RE = re.compile(r"(?:[" + PROVINCE_ABBREVIATIONS + r"][\u4e00-\u9fff]{0,3})?"
                           r"(?=[0-9A-Z-]*[0-9])[0-9A-Z][0-9A-Z-]*\Z")
_REGION_PROVINCES = frozenset(PROVINCE_CODES) - {"10"}
_STR_ONLY = frozenset({str})


def _uscc_ok(code: str) -> bool:
    """:func:`check_uscc` finds nothing (no error, no warning)."""
    if len(code) != 18 or code[:4] not in _USCC_PREFIXES or not code.isascii() \
            or not code[4:8].isdigit():
        return False
    try:
        total = int(code.encode()[16::-1].translate(_USCC_DIGITS), 34)
    except ValueError:  # a character outside the set
        return False
    return (_USCC_CHECK[total % 31] == code[17]  # so position 18 is in the set too
            and _ORG_CHECK[2 * int(code[8:16], 35) % 11] == code[16]
            and not ("E" in code and code.replace("E", "", 1).isdigit()
                     and _SCIENTIFIC_RE.match(code)))


def _text_ok(min_len: int, max_len: int) -> Callable[[str], bool]:
    """A test that :func:`_text` finds nothing: printable implies no control or invisible
    character."""
    def ok(value: str) -> bool:
        return (min_len <= len(value) <= max_len and value.isprintable()
                and value.strip() == value)
    return ok


@_cache
def _dept_ok(value: str) -> bool:
    return _DEPT_RE.match(value) is not None


@_cache
def _registry_head(value: str) -> str | None:
    """The part before the first ``/`` of a registry whose text and business line are
    clean, else None; :func:`_registry` finds nothing when it equals a clean ``dept``
    (a dept has no ``/``, so ``startswith(dept + "/")`` says the same)."""
    head, _, line = value.partition("/")
    if 1 <= len(value) <= 130 and value.isprintable() and value.strip() == value \
            and _DEPT_RE.match(line):
        return head
    return None


@_cache
def _industry_ok(value: str) -> bool:
    m = _INDUSTRY_RE.match(value)
    if m is None or m.group(1) not in INDUSTRY_SECTIONS:
        return False
    if m.group(2):
        first, last, _ = INDUSTRY_SECTIONS[m.group(1)]
        return first <= int(m.group(2)[:2]) <= last
    return True


@_cache
def _region_ok(value: str) -> bool:
    return _REGION_RE.match(value) is not None and value[:2] in _REGION_PROVINCES


@_cache
def _date_ok(value: str) -> bool:
    return iso_date(value) is not None


def _cert_ok(value: str) -> bool:
    return len(value) <= 32 and _CERT_FAST_RE.match(value) is not None


def _tokens_ok(items: tuple[str, ...]) -> bool:
    return len(set(items)) == len(items) and all(_TOKEN_RE.match(i) for i in items)


_tokens_cached = functools.lru_cache(maxsize=1024)(_tokens_ok)


def _qualifications_ok(value: object) -> bool:
    if type(value) is not list:
        return False
    if not value:
        return True
    if not set(map(type, value)) <= _STR_ONLY:
        return False
    items = tuple(value)
    if len(items) <= 16 and max(map(len, items)) <= 64:
        return _tokens_cached(items)
    return _tokens_ok(items)


def _bounded(test: Callable[[str], object], max_len: int) -> Callable[[str], object]:
    """``test`` (a cached one) asked only about values of at most ``max_len`` characters,
    the field's limit: a longer value fails the field anyway."""
    def bounded(value: str) -> object:
        return len(value) <= max_len and test(value)
    return bounded


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _never(value: object) -> bool:
    return False


def _in(codes: Mapping[str, str] | tuple[str, ...]) -> Callable[[str], bool]:
    return frozenset(codes).__contains__


def _registry_in_dept(body: dict[str, Any]) -> bool:
    registry = body.get("registry")
    return registry is None or _registry_head(registry) == body["dept"]


def _dates_in_order(body: dict[str, Any]) -> bool:
    start, end = body.get("valid_from"), body.get("valid_to")
    return start is None or end is None or start <= end


_Test = Callable[[str], object]  # truthy: the field's full rule finds nothing
_UNIT_OK = _cache(_text_ok(1, 100))
_LEGAL_FORM_OK = _cache(_text_ok(1, 50))
_DATE_OK = _bounded(_date_ok, 10)
_KEY_TESTS: dict[str, _Test] = {
    "uscc": _uscc_ok, "cert_no": _cert_ok, "dept": _bounded(_dept_ok, 64)}
_TARGET_TESTS: dict[str, _Test] = {
    **_KEY_TESTS, "name": _text_ok(1, 200), "registry": _bounded(_registry_head, 130),
    "industry": _bounded(_industry_ok, 5), "region": _bounded(_region_ok, 6),
    "risk": _in(RISK_LEVELS), "status": _in(TARGET_STATUSES),
    "unit": _bounded(_UNIT_OK, 100), "reg_no": reg_no_check_ok,
    "legal_form": _bounded(_LEGAL_FORM_OK, 50),
}
_INSPECTOR_TESTS: dict[str, _Test] = {
    **_KEY_TESTS, "name": _text_ok(2, 20), "unit": _bounded(_UNIT_OK, 100),
    "qualifications": _never, "valid_from": _DATE_OK, "valid_to": _DATE_OK, "expert": _never,
}
_CONFLICT_TESTS: dict[str, _Test] = {
    **_KEY_TESTS, "relation": _in(CONFLICT_RELATIONS), "declared_on": _DATE_OK,
}
_OTHER_TESTS: dict[str, Callable[[Any], bool]] = {
    "qualifications": _qualifications_ok, "expert": _is_bool,
}


@dataclass(frozen=True, slots=True)
class _Fast:
    required: frozenset[str]
    # Each field of the layout (none of them a personal-data key): its test for a str value
    # and for any other value. A key in neither is not clean.
    strings: Mapping[str, _Test]
    others: Mapping[str, Callable[[Any], bool]]
    change: bool
    cross: Callable[[dict[str, Any]], bool] | None  # tests between fields, after each field's


def _fast(type_: str, tests: Mapping[str, _Test], reasons: Mapping[str, str] | None = None,
          cross: Callable[[dict[str, Any]], bool] | None = None) -> _Fast:
    layout = _LAYOUTS[type_]
    tests = {**tests, "reason": _in(reasons)} if reasons is not None else tests
    known = frozenset(name for name in layout.rules if not is_personal_key(name))
    return _Fast(frozenset(layout.required), {name: tests[name] for name in known},
                 {name: _OTHER_TESTS.get(name, _never) for name in known}, layout.change,
                 cross)


_FAST: dict[str, _Fast] = {
    "target.added": _fast("target.added", _TARGET_TESTS, cross=_registry_in_dept),
    "target.updated": _fast("target.updated", _TARGET_TESTS, cross=_registry_in_dept),
    "target.removed": _fast("target.removed", _TARGET_TESTS, TARGET_REMOVAL_REASONS),
    "inspector.added": _fast("inspector.added", _INSPECTOR_TESTS, cross=_dates_in_order),
    "inspector.updated": _fast("inspector.updated", _INSPECTOR_TESTS, cross=_dates_in_order),
    "inspector.removed": _fast("inspector.removed", _INSPECTOR_TESTS,
                               INSPECTOR_REMOVAL_REASONS),
    "conflict.declared": _fast("conflict.declared", _CONFLICT_TESTS),
    "conflict.withdrawn": _fast("conflict.withdrawn", _CONFLICT_TESTS,
                                CONFLICT_WITHDRAWAL_REASONS),
}


def _clean(fast: _Fast, body: object) -> bool:
    """True only when :func:`_check_body_full` finds nothing in ``body``: the required
    fields present, every key a layout field whose value passes that field's test."""
    if type(body) is not dict:
        return False
    if not body.keys() >= fast.required or (fast.change and len(body) == len(fast.required)):
        return False
    strings, others = fast.strings, fast.others
    for name, value in body.items():
        test = strings.get(name) if type(value) is str else others.get(name)
        if test is None or not test(value):
            return False
    return fast.cross is None or fast.cross(body)


# The two most frequent types, written out: the same tests as _clean with _FAST's tables
# (tests/test_registry.py checks the field lists against the layouts), without the
# per-field lookups and calls.
_TARGET_ADDED_KEYS = ("uscc", "name", "dept", "registry", "industry", "region", "risk",
                      "status", "unit")  # required; reg_no and legal_form are optional
_TARGET_OPTIONAL = frozenset({"reg_no", "legal_form"})
_TARGET_ADDED_KNOWN = frozenset(_TARGET_ADDED_KEYS) | _TARGET_OPTIONAL
_INSPECTOR_ADDED_KEYS = ("cert_no", "name", "dept", "unit", "qualifications", "valid_from",
                         "valid_to", "expert")  # all required
_RISKS = frozenset(RISK_LEVELS)
_STATUSES = frozenset(TARGET_STATUSES)


def _target_added_clean(body: object) -> bool:
    if type(body) is not dict:
        return False
    try:
        uscc, name, dept, registry = body["uscc"], body["name"], body["dept"], body["registry"]
        industry, region, risk = body["industry"], body["region"], body["risk"]
        status, unit = body["status"], body["unit"]
    except KeyError:
        return False
    if len(body) != 9 and not _target_optional_clean(body):
        return False
    return (type(uscc) is str and type(name) is str and type(dept) is str
            and type(registry) is str and type(industry) is str and type(region) is str
            and type(risk) is str and type(status) is str and type(unit) is str
            and _uscc_ok(uscc)
            and 1 <= len(name) <= 200 and name.isprintable() and name.strip() == name
            and len(dept) <= 64 and _dept_ok(dept)
            and len(registry) <= 130 and _registry_head(registry) == dept
            and len(industry) <= 5 and _industry_ok(industry)
            and len(region) == 6 and _region_ok(region)
            and risk in _RISKS and status in _STATUSES
            and len(unit) <= 100 and _UNIT_OK(unit))


def _target_optional_clean(body: dict[str, Any]) -> bool:
    """Besides the required fields, only reg_no and legal_form, and clean."""
    if not body.keys() <= _TARGET_ADDED_KNOWN:
        return False
    if "reg_no" in body:
        reg_no = body["reg_no"]
        if type(reg_no) is not str or not reg_no_check_ok(reg_no):
            return False
    if "legal_form" in body:
        legal_form = body["legal_form"]
        if type(legal_form) is not str or len(legal_form) > 50 \
                or not _LEGAL_FORM_OK(legal_form):
            return False
    return True


def _inspector_added_clean(body: object) -> bool:
    if type(body) is not dict or len(body) != 8:
        return False
    try:
        cert_no, name, dept, unit = body["cert_no"], body["name"], body["dept"], body["unit"]
        qualifications, valid_from = body["qualifications"], body["valid_from"]
        valid_to, expert = body["valid_to"], body["expert"]
    except KeyError:
        return False
    return (type(cert_no) is str and type(name) is str and type(dept) is str
            and type(unit) is str and type(valid_from) is str and type(valid_to) is str
            and type(expert) is bool and _cert_ok(cert_no)
            and 2 <= len(name) <= 20 and name.isprintable() and name.strip() == name
            and len(dept) <= 64 and _dept_ok(dept) and len(unit) <= 100 and _UNIT_OK(unit)
            and len(valid_from) == 10 and _date_ok(valid_from)
            and len(valid_to) == 10 and _date_ok(valid_to) and valid_from <= valid_to
            and _qualifications_ok(qualifications))


_CLEAN: dict[str, Callable[[object], bool]] = {
    type_: functools.partial(_clean, fast) for type_, fast in _FAST.items()}
_CLEAN["target.added"] = _target_added_clean
_CLEAN["inspector.added"] = _inspector_added_clean
