"""Draft a work order (工单) from what the citizen said.

Pure rules, no I/O: the input is the citizen's side of the transcript (one utterance per line or
sentence), the output an `OrderDraft` the agent confirms or edits (SPEC R4.3). Every decision
carries the words that caused it, so the agent can see why.

- category: 咨询 / 投诉 / 举报 / 求助 / 建议 (the IVR menu of SPEC R2.1);
- emergency: 110 / 119 / 120 / 水上救援 matters are not accepted but handed over (第九条(五));
- non-acceptance flags for 第九条(一)–(四);
- phones, addresses, suggested member unit (keyword rules of the unit catalogue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from recordings.mentions import find_addresses, find_phones, normalize_text
from recordings.units import FUNCTIONAL_KINDS, PLACE_KINDS, UnitCatalogue, UnitMatch

CATEGORIES = ("咨询", "投诉", "举报", "求助", "建议")
CATEGORY_CODES = {"咨询": "consultation", "投诉": "complaint", "举报": "report", "求助": "help",
                  "建议": "suggestion"}
"""The workflow's category codes for the Chinese labels."""

# Explicit statements of intent decide the category outright ("我要投诉…").
_EXPLICIT = {
    "举报": ("举报", "检举", "揭发"),
    "投诉": ("投诉", "曝光"),
    "建议": ("建议", "提个意见", "提一个意见", "意见征集"),
    "求助": ("求助", "求求你们帮", "请帮帮", "帮帮我", "救救"),
    "咨询": ("咨询",),
}
# Weaker cues, summed when no explicit intent is stated.
_CUES = {
    "举报": ("偷排", "非法", "违法", "无证", "黑诊所", "黑车", "造假", "假货", "行贿", "私自",
             "偷偷", "电鱼", "非法捕捞", "违章搭建", "违建", "群租", "非法营运", "偷税"),
    "投诉": ("扰民", "吵得", "太吵", "噪音", "不满意", "态度", "拒载", "绕路", "乱收费", "不给退",
             "拖欠", "欠薪", "不作为", "推诿", "没人管", "一直没人来", "好几次", "受不了", "隐患",
             "臭", "油烟", "不停站", "甩客", "太差", "扣费", "霸王条款", "不退"),
    "求助": ("停水", "停电", "没水", "没电", "断网", "被困", "困难", "没钱", "怎么办", "帮忙",
             "帮一下", "走丢", "迷路", "漏水", "水管爆", "爆管", "没饭吃", "急需", "冒水", "坏了",
             "尽快修", "修一下"),
    "建议": ("能不能增设", "能否增设", "增设", "增加一个", "建个", "多开", "延长", "改进", "优化",
             "是不是可以", "可不可以考虑", "应该"),
    "咨询": ("请问", "想问", "问一下", "想了解", "了解一下", "打听", "怎么办理", "需要什么材料",
             "在哪里办", "在哪办", "多少钱", "什么时候", "能不能", "可以吗", "流程", "条件", "政策",
             "怎么申请", "如何", "哪里可以"),
}
# A cue of a matter (a grievance, a report, a need) weighs more than a polite question form:
# "停水了…能不能帮忙问一下什么时候来水" is a request for help, not a consultation.
_CUE_WEIGHT = {"举报": 2, "投诉": 2, "求助": 2, "建议": 1, "咨询": 1}
# Tie-break when cues are equal: the more serious matter first.
_PRIORITY = ("举报", "投诉", "求助", "建议", "咨询")

# 第九条(五): matters for 110 / 119 / 120 / water rescue. Each tuple: service, words.
# Hazards that are *not* happening now ("火灾隐患", "消防通道堵了") are ordinary orders.
_EMERGENCY = (
    ("119", ("着火了", "起火了", "失火", "火烧起来", "烧起来了", "火很大", "冒黑烟出来", "煤气泄漏",
             "燃气泄漏", "闻到煤气味", "被困电梯", "困在电梯", "有人被困", "爆炸了")),
    ("120", ("晕倒", "昏迷", "没有呼吸", "呼吸困难", "心脏病发", "抽搐", "大出血", "流了很多血",
             "快不行了", "叫救护车", "救护车", "中毒了", "吃了农药", "不省人事")),
    ("110", ("抢劫", "持刀", "拿刀", "砍人", "打人了", "正在打架", "在打架", "绑架", "有人跳楼",
             "要跳楼", "小偷正在", "家暴", "被人打", "有人闯进", "撬门")),
    ("水上救援", ("落水", "溺水", "掉进河里", "掉河里", "掉水里", "有人跳河")),
)

# 第九条(一): places outside Changzhou's administrative jurisdiction.
_OTHER_CITIES = ("无锡", "苏州", "南京", "镇江", "扬州", "泰州", "南通", "徐州", "盐城", "淮安",
                 "连云港", "宿迁", "上海", "杭州", "北京", "湖州", "宣城", "合肥", "宜兴", "江阴",
                 "丹阳", "句容", "广州", "深圳", "天津", "重庆")
_CHANGZHOU_MARKERS = ("常州", "本市", "我们市", "市里")
# 第九条(二): already in (or belonging to) petition / arbitration / review / litigation.
_PROCEEDINGS = ("信访", "上访", "仲裁", "行政复议", "诉讼", "起诉", "法院", "打官司", "已经立案",
                "判决", "开庭")
# 第九条(三): state secrets, trade secrets, personal privacy.
_PRIVACY = ("国家秘密", "机密文件", "商业秘密", "个人隐私", "查一下他的", "查他的手机", "查她的",
            "开房记录", "他的住址", "她的住址", "他家住哪", "身份证号告诉我", "查一下某某")
# 第九条(四): malicious insult or defamation.
_INSULTS = ("傻逼", "傻X", "狗官", "王八蛋", "混蛋", "去死", "废物", "滚蛋", "他妈的", "垃圾政府")

_FILLERS = ("喂", "你好", "您好", "嗯", "啊", "呃", "那个", "就是说", "是这样的", "是这样",
            "谢谢", "麻烦你", "麻烦您", "好的", "我跟你说", "我想问一下", "我问一下")
_SUMMARY_MAX = 60


@dataclass(frozen=True)
class Emergency:
    """An emergency matter to hand over (第九条(五)): which service and the words heard."""

    service: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"service": self.service, "evidence": self.evidence, "clause": "第九条(五)"}


@dataclass(frozen=True)
class NonAcceptance:
    """A reason the matter may not be accepted (第九条(一)–(四)), for the agent to decide."""

    clause: str
    code: str
    reason: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"clause": self.clause, "code": self.code, "reason": self.reason,
                "evidence": self.evidence}


@dataclass(frozen=True)
class OrderDraft:
    """What the backend proposes for the order; the agent confirms or edits it."""

    category: str
    category_evidence: tuple[str, ...]
    summary: str
    phones: tuple[str, ...]
    addresses: tuple[str, ...]
    suggested_unit: str | None
    location_unit: str | None
    unit_candidates: tuple[UnitMatch, ...] = field(default_factory=tuple)
    emergency: Emergency | None = None
    non_acceptance: tuple[NonAcceptance, ...] = field(default_factory=tuple)

    @property
    def acceptable(self) -> bool:
        """False when the rules found an emergency or a 第九条 non-acceptance reason."""
        return self.emergency is None and not self.non_acceptance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored as the draft and sent to the console)."""
        return {
            "category": self.category,
            "category_code": CATEGORY_CODES[self.category],
            "category_evidence": list(self.category_evidence),
            "summary": self.summary,
            "phones": list(self.phones),
            "addresses": list(self.addresses),
            "suggested_unit": self.suggested_unit,
            "unit_source": "keywords" if self.suggested_unit else None,
            "location_unit": self.location_unit,
            "unit_candidates": [m.to_dict() for m in self.unit_candidates],
            "emergency": self.emergency.to_dict() if self.emergency else None,
            "non_acceptance": [n.to_dict() for n in self.non_acceptance],
            "acceptable": self.acceptable,
        }


def _first_hit(text: str, words: tuple[str, ...]) -> str | None:
    hits = [(text.find(w), w) for w in words if w in text]
    return min(hits)[1] if hits else None


def classify(text: str) -> tuple[str, tuple[str, ...]]:
    """The category of a (normalized) citizen text and the words that decided it.

    An explicit intent wins (the earliest one spoken, "我想咨询一下…有人偷排，我要举报" is a
    report because 举报 outranks 咨询); otherwise the category with most cue words; default 咨询."""
    explicit = {cat: [w for w in words if w in text] for cat, words in _EXPLICIT.items()}
    stated = [cat for cat in _PRIORITY if explicit[cat]]
    if stated:
        cat = stated[0]
        return cat, tuple(explicit[cat])
    scores = {cat: [w for w in words if w in text] for cat, words in _CUES.items()}
    best = max(_PRIORITY,
               key=lambda c: (len(scores[c]) * _CUE_WEIGHT[c], -_PRIORITY.index(c)))
    if not scores[best]:
        return "咨询", ()
    return best, tuple(scores[best])


def detect_emergency(text: str) -> Emergency | None:
    """The 110/119/120/水上救援 matter in ``text`` (第九条(五)), or None."""
    for service, words in _EMERGENCY:
        hit = _first_hit(text, words)
        if hit:
            return Emergency(service=service, evidence=hit)
    return None


def detect_non_acceptance(text: str, local_places: list[UnitMatch]) -> list[NonAcceptance]:
    """第九条(一)–(四) reasons found in ``text``. ``local_places`` are the Changzhou districts and
    streets the text mentions (a mention of one means the matter is local)."""
    flags: list[NonAcceptance] = []
    city = _first_hit(text, _OTHER_CITIES)
    if city and not local_places and not _first_hit(text, _CHANGZHOU_MARKERS):
        flags.append(NonAcceptance("第九条(一)", "out_of_jurisdiction",
                                   "非常州市行政管辖权范围内的事项", city))
    hit = _first_hit(text, _PROCEEDINGS)
    if hit:
        flags.append(NonAcceptance("第九条(二)", "in_legal_proceedings",
                                   "已进入或须通过信访、仲裁、行政复议、诉讼程序的事项", hit))
    hit = _first_hit(text, _PRIVACY)
    if hit:
        flags.append(NonAcceptance("第九条(三)", "secret_or_privacy",
                                   "涉及国家秘密、商业秘密、个人隐私的事项", hit))
    hit = _first_hit(text, _INSULTS)
    if hit:
        flags.append(NonAcceptance("第九条(四)", "insulting",
                                   "涉及恶意侮辱、诽谤他人等扰乱社会秩序的事项", hit))
    return flags


def _strip_fillers(clause: str) -> str:
    changed = True
    while changed:
        changed = False
        for f in _FILLERS:
            if clause.startswith(f):
                clause, changed = clause[len(f):], True
    return clause.strip("，,。 ")


def summarize(text: str, keywords: tuple[str, ...]) -> str:
    """A short summary: the clauses that carry the matter (they contain a unit keyword or an
    intent/cue word), fillers and the caller's own phone number dropped, at most 60 characters."""
    clauses = [_strip_fillers(c) for c in re.split(r"[。！!？?；;\n，,]", text)]
    # The caller's own number is a contact detail, not the matter.
    clauses = [c for c in clauses if c and not find_phones(c)]
    if not clauses:
        return ""
    cue_words = tuple(w for words in (*_EXPLICIT.values(), *_CUES.values()) for w in words)
    chosen = [c for c in clauses if any(k in c for k in keywords + cue_words)] or clauses[:1]
    summary = "，".join(dict.fromkeys(chosen))
    if len(summary) > _SUMMARY_MAX:
        summary = summary[: _SUMMARY_MAX - 1] + "…"
    return summary


def _location(places: list[UnitMatch]) -> str | None:
    """The most precise place mentioned: a street (街道/镇) beats its district, preferring a street
    of the best-scoring district when several streets match."""
    if not places:
        return None
    streets = [m for m in places if m.kind == "street"]
    districts = [m for m in places if m.kind == "district"]
    if not streets:
        return districts[0].code if districts else None
    if not districts:
        return streets[0].code
    best = districts[0]
    in_district = [m for m in streets if m.code.startswith(best.code + "-")]
    if in_district:
        return in_district[0].code
    # A street elsewhere only wins on a stronger match ("高铁站" alone must not beat "常州北站").
    return streets[0].code if streets[0].score > best.score else best.code


def draft_order(citizen_text: str, units: UnitCatalogue) -> OrderDraft:
    """Draft the work order from the citizen's words (one or more utterances)."""
    text = normalize_text(citizen_text)
    functional = units.match(text, FUNCTIONAL_KINDS)
    places = units.match(text, PLACE_KINDS)
    category, evidence = classify(text)
    emergency = detect_emergency(text)
    if emergency is not None and not evidence:
        # An emergency caller asks for help even when they never say so (第九条(五) hand-over).
        category, evidence = "求助", (emergency.evidence,)
    flags = detect_non_acceptance(text, places)
    # Insults with no matter at all: 第九条(四) "反映内容不具体" as well.
    if not functional and not places and len(text) < 8 and emergency is None:
        flags.append(NonAcceptance("第九条(四)", "not_specific", "反映内容不具体，无法办理", text))
    out_of_area = any(f.code == "out_of_jurisdiction" for f in flags)
    suggested = None
    if not out_of_area and emergency is None:
        if functional:
            suggested = functional[0].code
        elif places:
            suggested = places[0].code
    keywords = tuple(k for m in functional + places for k in m.keywords)
    if emergency is not None:
        keywords += (emergency.evidence,)
    return OrderDraft(
        category=category,
        category_evidence=evidence,
        summary=summarize(text, keywords),
        phones=tuple(find_phones(text)),
        addresses=tuple(find_addresses(text)),
        suggested_unit=suggested,
        location_unit=_location(places) if not out_of_area else None,
        unit_candidates=tuple(functional[:3] + places[:2]),
        emergency=emergency,
        non_acceptance=tuple(flags),
    )
