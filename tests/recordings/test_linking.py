"""Transcript → orders with a minimal order linker, and knowledge-base suggestions in the draft
(the transcript/draft pipeline on a real database, scripted recognizer)."""

from __future__ import annotations

from pathlib import Path

from kit.jobs import JobQueue
from recordings.drafts import DraftStore, enrich_with_knowledge_base
from recordings.fake_stt import FakeTranscriber
from recordings.linking import ATTACH_KIND, TranscriptLinks
from recordings.registry import REGISTER_KIND, TRANSCRIBE_KIND, CaptureRegistry
from recordings.transcription import TranscriptionHandler
from recordings.units import UnitCatalogue
from tests.recordings.helpers import drain, mixmonitor_files

UNITS = UnitCatalogue.from_file(Path(__file__).parent / "data" / "member-units.json")


class MinimalLinker:
    """Orders by call, as the workflow would keep them."""

    def __init__(self) -> None:
        self.orders: dict[str, list[str]] = {}
        self.calls: list[tuple[str, int]] = []

    async def attach_transcript(self, call_id: str, transcript_id: int, summary: str):
        self.calls.append((call_id, transcript_id))
        return self.orders.get(call_id, [])

    async def calls_with_open_orders(self, call_ids):
        return {c for c in call_ids if self.orders.get(c)}


class FakeKb:
    def __init__(self) -> None:
        self.queries: list[str] = []

    async def suggest_articles(self, text: str, limit: int = 3):
        self.queries.append(text)
        return [{"id": 7, "unit_code": "CZ-ZWB", "title": "如何预约办事"}]


async def _pipeline(pool, root: Path, call_id: str, citizen: str, linker, kb) -> TranscriptLinks:
    q = JobQueue(pool)
    reg = CaptureRegistry(pool, q, root)
    links = TranscriptLinks(pool, q, linker, kb)
    handler = TranscriptionHandler(pool, q, root, FakeTranscriber(), UNITS, "fake")
    files = mixmonitor_files(root, call_id, citizen=[(citizen, 0.2, 1.5)],
                             agent=[("您好", 0.0, 0.1)])
    await reg.call_ended(call_id, files)
    await drain(q, {REGISTER_KIND: reg.handle_register, TRANSCRIBE_KIND: handler,
                    ATTACH_KIND: links.handle_attach})
    return links


async def test_orders_of_the_call_get_the_transcript(pool, tmp_path: Path) -> None:
    linker = MinimalLinker()
    linker.orders["c1"] = ["202611280007"]  # created during the call
    links = await _pipeline(pool, tmp_path, "c1", "我 要 投诉 小区 物业", linker, None)
    tid = await pool.fetchval("SELECT id FROM transcripts WHERE call_id = 'c1'")
    assert linker.calls == [("c1", tid)]
    assert (await links.transcript_for_order("202611280007"))["id"] == tid
    # A second order of the same call, created after the transcript.
    linker.orders["c1"].append("202611280008")
    await links.link_order("c1", "202611280008")
    await drain(links.queue, {ATTACH_KIND: links.handle_attach})
    assert (await links.transcript_for_order("202611280008"))["id"] == tid
    assert await links.orders_of_call("c1") == ["202611280008"]
    assert await pool.fetchval("SELECT count(*) FROM transcript_attachments") == 2


async def test_knowledge_base_fills_unit_when_keywords_found_none(pool, tmp_path: Path) -> None:
    kb = FakeKb()
    await _pipeline(pool, tmp_path, "c2", "我 想 咨询 网上 怎么 预约", None, kb)
    draft = await DraftStore(pool).get("c2")
    assert kb.queries == ["我 想 咨询 网上 怎么 预约"]
    assert draft["proposed"]["suggested_unit"] == "CZ-ZWB"
    assert draft["proposed"]["unit_source"] == "knowledge_base"
    assert draft["current"]["kb_articles"] == [{"id": 7, "unit_code": "CZ-ZWB",
                                                "title": "如何预约办事"}]


async def test_keyword_unit_wins_and_edited_draft_is_left_alone(pool, tmp_path: Path) -> None:
    kb = FakeKb()
    await _pipeline(pool, tmp_path, "c3", "我 要 投诉 小区 物业", None, kb)
    draft = await DraftStore(pool).get("c3")
    assert draft["proposed"]["suggested_unit"] == "CZ-ZJJ"
    assert draft["proposed"]["unit_source"] == "keywords"
    assert draft["proposed"]["kb_articles"][0]["id"] == 7
    # The agent edited the draft before the knowledge base answered: it is not overwritten.
    await _pipeline(pool, tmp_path, "c4", "我 要 投诉 小区 物业", None, None)
    await DraftStore(pool).edit("c4", {"summary": "物业不作为"}, user_id=1)
    assert not await enrich_with_knowledge_base(pool, "c4", kb)
    current = (await DraftStore(pool).get("c4"))["current"]
    assert "kb_articles" not in current and current["summary"] == "物业不作为"
