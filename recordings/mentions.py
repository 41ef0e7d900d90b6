"""Phone numbers and addresses mentioned in a citizen's speech.

Speech-to-text writes digits either as Arabic numerals or as Chinese characters
(``幺三八零零幺三八零零零``: telephone Mandarin says 幺 for 1), often with spaces between words;
both forms are recognised.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_CN_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2",
              "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_DIGIT_CHARS = "0-9" + "".join(_CN_DIGITS)
# A run of digit characters, allowing the separators people dictate numbers with.
_DIGIT_RUN = re.compile(f"[{_DIGIT_CHARS}](?:[{_DIGIT_CHARS}]|[-－ ](?=[{_DIGIT_CHARS}]))*")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Landline with area code (0519 is Changzhou); a bare 8-digit number is a local landline.
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}|\d{8}")

_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff\uff00-\uffef]) +|"
                        r" +(?=[\u3400-\u9fff\uff00-\uffef])")


def normalize_text(text: str) -> str:
    """Remove the spaces a recognizer puts between Chinese words (``我 想 投诉`` → ``我想投诉``)
    and collapse other whitespace."""
    text = re.sub(r"\s+", " ", text.strip())
    return _CJK_SPACE.sub("", text)


def _digits(run: str) -> str:
    return "".join(_CN_DIGITS.get(ch, ch) for ch in run if ch not in "-－ ")


def find_phones(text: str) -> list[str]:
    """Phone numbers in ``text`` as digit strings, in order of appearance, without duplicates.

    Mobile numbers (11 digits, 1[3-9]…) and landlines (area code + 7–8 digits, or 8 local digits)
    are kept; short service numbers (110, 12345, 95598) are not phone *mentions* of the caller."""
    found: list[str] = []
    for m in _DIGIT_RUN.finditer(text):
        digits = _digits(m.group())
        if len(digits) < 8:
            continue
        number = None
        if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
            number = digits
        else:
            mobile = _MOBILE.search(digits)
            if mobile:
                number = mobile.group()
        if number and number not in found:
            found.append(number)
    return found


_NUM = "[0-9零一二三四五六七八九十百幺两]+"
# 线路/路灯/路口 are not roads; 街道 is a sub-district, not a street.
_ROAD = "(?:(?<![线道网])路(?![灯口线费况面过由])|街(?!道)|大道|巷|弄)"
_ESTATE = "(?:小区|新村|花园|家园|公寓|苑|雅苑|广场|大厦|市场|社区|村|城)"
_UNIT = f"(?:{_NUM}(?:号楼|栋|幢|单元|号|室|楼|层))"
_ADDRESS = re.compile(
    "(?:[\u4e00-\u9fff]{2,4}(?:区|县|市)(?!民))?(?:[\u4e00-\u9fff]{2,4}(?:镇|街道|乡))?"
    f"(?:[\u4e00-\u9fff]{{1,8}}{_ROAD}(?:{_NUM}号)?(?:[\u4e00-\u9fff]{{0,6}}{_ESTATE})?"
    f"|[\u4e00-\u9fff]{{2,8}}{_ESTATE})"
    f"{_UNIT}*"
)

# Words that precede an address in speech and must not be part of it.
_LEADING_STOPWORDS = frozenset({
    "我", "我们", "我家", "家", "家住", "住", "住在", "在", "就", "就在", "是", "的", "那个",
    "这个",
    "那", "这", "地址", "地点", "位置", "位于", "到", "去", "从", "靠近", "附近", "旁边", "对面",
    "门口", "楼下", "你好", "您好", "喂", "请问", "了", "有", "个", "一个", "说", "想", "问",
    "反映", "投诉", "举报", "咨询", "我要", "我想", "这边", "那边", "里", "现在", "就是",
    "家门口", "我住", "我家住", "住的", "一下", "他们", "你们", "咱们",
})
_TRAILING_NOISE = ("里面", "里", "门口", "附近", "旁边", "对面", "楼下", "这边", "那边")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _trim_address(candidate: str) -> str:
    """Cut the spoken lead-in (``我家住在…``) off a regex candidate with jieba segmentation."""
    tokens = _jieba().lcut(candidate)
    while tokens and (tokens[0] in _LEADING_STOPWORDS or len(tokens[0].strip()) == 0):
        tokens.pop(0)
    # A lead-in glued into one token by the segmenter (e.g. "家住在红梅").
    text = "".join(tokens)
    # "公交车在河海中路": the address starts after the last 在/住/到 (no Changzhou place name
    # contains them), as long as something address-like is left.
    cut = max(text.rfind("在"), text.rfind("住"), text.rfind("到"))
    if cut >= 0 and len(text) - cut - 1 >= 3:
        text = text[cut + 1:]
    for prefix in sorted(_LEADING_STOPWORDS, key=len, reverse=True):
        if text.startswith(prefix) and len(text) - len(prefix) >= 3 and prefix[-1] in "在住":
            text = text[len(prefix):]
            break
    for suffix in _TRAILING_NOISE:
        if text.endswith(suffix) and len(text) - len(suffix) >= 3:
            text = text[: -len(suffix)]
    return text


def find_addresses(text: str) -> list[str]:
    """Addresses in ``text`` (road + number, estate + building/unit, with district or town
    prefixes when spoken), in order, without duplicates or addresses contained in another."""
    text = normalize_text(text)
    found: list[str] = []
    for clause in re.split(r"[，,。.！!？?；;：:、\s]", text):
        for m in _ADDRESS.finditer(clause):
            address = _trim_address(m.group())
            estate = re.search(f"{_ESTATE}$", address)
            if estate and len(address) - len(estate.group()) < 2:
                continue  # "我们小区", "老小区": no name, no address
            if len(address) < 3 or address in found:
                continue
            if any(address in other for other in found):
                continue
            found = [other for other in found if other not in address]
            found.append(address)
    return found
