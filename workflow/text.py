"""Chinese word segmentation for full-text search (jieba), robust to segmentation drift.

PostgreSQL's ``simple`` parser does not segment Chinese, so we segment in Python, store the
tokens space-separated and index ``to_tsvector('simple', tokens)`` with GIN.

jieba segments by context: "路灯不亮" becomes 路 / 灯不亮 while the query "路灯" stays 路灯, so
jieba tokens alone miss obvious matches. The stored tokens are therefore the jieba search-mode
tokens *plus* the character bigrams of every run of Chinese characters, and each query word is
matched as ``word | (all of its bigrams)``: an exact jieba hit, or the word appearing as a run
of characters in the text.
"""

from __future__ import annotations

import functools
import logging
import re
import threading

import jieba

_LOCK = threading.Lock()
_READY: list[bool] = []
_KEEP = re.compile(r"[\w]", re.UNICODE)
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_STOP = frozenset(
    "的 了 和 是 在 我 有 也 就 都 而 及 与 着 或 一个 没有".split()
    + "我们 你们 他们 请问 怎么 什么 吗 呢 吧 啊".split()
)
MAX_QUERY_TOKENS = 16


def _init() -> None:
    if not _READY:
        with _LOCK:
            if not _READY:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _READY.append(True)


def tokens(text: str) -> list[str]:
    """Search-mode jieba tokens of ``text`` (lower-cased, punctuation and stop words dropped)."""
    _init()
    out: list[str] = []
    for tok in jieba.cut_for_search(text or ""):
        t = tok.strip().lower()
        if t and _KEEP.search(t) and t not in _STOP:
            out.append(t)
    return out


def bigrams(text: str) -> list[str]:
    """Character bigrams of every run of Chinese characters in ``text``."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text or ""):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@functools.lru_cache(maxsize=4096)
def token_text(*parts: str | None) -> str:
    """The stored ``tokens`` value for the given texts: jieba tokens plus CJK bigrams
    (cached: an order's text rarely changes while its state does)."""
    words: list[str] = []
    for p in parts:
        if p:
            words.extend(tokens(p))
            words.extend(bigrams(p))
    return " ".join(words)


def _quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery(text: str, *, any_word: bool = False) -> str | None:
    """A ``to_tsquery('simple', ...)`` expression for ``text``, or None when it has no words.

    Words come from jieba's precise mode; each longer Chinese word also matches through its
    bigrams. Every word is quoted, so user input can never inject tsquery operators.
    """
    _init()
    words = []
    for tok in jieba.cut(text or ""):
        t = tok.strip().lower()
        if t and _KEEP.search(t) and t not in _STOP:
            words.append(t)
    words = list(dict.fromkeys(words))
    # A lone Chinese character only matches as itself; drop it when longer words exist.
    longer = [w for w in words if not (len(w) == 1 and _CJK_RUN.fullmatch(w))]
    words = (longer or words)[:MAX_QUERY_TOKENS]
    if not words:
        return None
    groups = []
    for w in words:
        grams = bigrams(w) if _CJK_RUN.fullmatch(w) and len(w) > 2 else []
        if grams:
            groups.append("(" + _quote(w) + " | (" + " & ".join(map(_quote, grams)) + "))")
        else:
            groups.append(_quote(w))
    return (" | " if any_word else " & ").join(groups)
