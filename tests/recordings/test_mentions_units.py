"""Phone / address extraction and the unit catalogue."""

from __future__ import annotations

import pytest

from recordings.mentions import find_addresses, find_phones, normalize_text
from recordings.units import CatalogueError, UnitCatalogue


def test_normalize_joins_recognizer_spaces_between_chinese_words() -> None:
    assert normalize_text("我 想 投诉  一下 ABC def") == "我想投诉一下ABC def"


@pytest.mark.parametrize("text,want", [
    ("我手机13912345678", ["13912345678"]),
    ("幺三九 幺二三四 五六七八", ["13912345678"]),
    ("座机0519-86661234，还有一个138 0013 8000", ["051986661234", "13800138000"]),
    ("打了110和12345还有95598都没用", []),
    ("一二三四五六七", []),  # seven digits: neither a mobile nor a landline
    ("13912345678再说一遍13912345678", ["13912345678"]),
])
def test_find_phones(text: str, want: list[str]) -> None:
    assert find_phones(text) == want


@pytest.mark.parametrize("text,want", [
    ("我家住在天宁区红梅新村12栋", ["天宁区红梅新村12栋"]),
    ("地址是延陵西路88号", ["延陵西路88号"]),
    ("公交车在河海中路不停站", ["河海中路"]),
    ("我们小区不行", []),
    ("我建议增设一条公交线路", []),
    ("锦绣江南小区3幢2单元漏水", ["锦绣江南小区3幢2单元"]),
    ("我们是钟楼区西林街道的", []),
])
def test_find_addresses(text: str, want: list[str]) -> None:
    assert find_addresses(text) == want


def test_catalogue_rejects_malformed_data() -> None:
    with pytest.raises(CatalogueError, match="empty"):
        UnitCatalogue.from_data({"units": []})
    with pytest.raises(CatalogueError, match="#0"):
        UnitCatalogue.from_data([{"name": "no code"}])
    with pytest.raises(CatalogueError):
        UnitCatalogue.from_data({"units": "x"})


def test_longer_keyword_shadows_contained_one() -> None:
    cat = UnitCatalogue.from_data([
        {"code": "A", "name": "住建", "keywords": ["加装电梯"]},
        {"code": "B", "name": "市场监管", "keywords": ["电梯"]},
    ])
    assert [m.code for m in cat.match("老小区加装电梯")] == ["A"]
    assert [m.code for m in cat.match("电梯坏了，加装电梯")] == ["A", "B"]
