"""Segmentation for full-text search: jieba tokens plus CJK bigrams, injection-proof queries."""

from __future__ import annotations

from workflow.text import bigrams, token_text, tsquery


def test_bigrams_bridge_jieba_context_splits():
    # jieba cuts "路灯不亮" as 路 / 灯不亮, so the word 路灯 is only found through bigrams.
    stored = token_text("路灯不亮,晚上很黑").split()
    assert "路灯" in stored
    assert bigrams("路灯不亮") == ["路灯", "灯不", "不亮"]
    assert bigrams("abc 你好") == ["你好"]


def test_query_words_match_exactly_or_by_bigrams():
    assert tsquery("路灯") == "'路灯'"
    q = tsquery("公积金提取")
    assert q == "('公积金' | ('公积' & '积金')) & '提取'"
    assert tsquery("公积金 提取", any_word=True) == "('公积金' | ('公积' & '积金')) | '提取'"


def test_stop_words_punctuation_and_single_chars():
    assert tsquery("的了吗?!") is None
    assert tsquery("灯") == "'灯'"  # a lone character is kept when it is all there is
    assert tsquery("路灯坏了") == "'路灯'"  # 坏 dropped beside a longer word, 了 is a stop word


def test_operators_in_user_text_are_quoted():
    q = tsquery("a'b & c | !d")
    assert q is not None
    for part in q.split(" & "):
        assert part.startswith("'") and part.endswith("'")
    assert "'a''b'" in q or "'a'" in q
