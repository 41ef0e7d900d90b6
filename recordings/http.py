"""HTTP routes of the recordings feature: audio (with Range), transcripts, drafts, holds, alerts,
dead-letter jobs, live transcript WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from kit.auth import PLATFORM_ROLES, READ_ROLES, SUPERVISOR_ROLES
from kit.errors import BadRequest, NotFound
from kit.http import Routes, json_response, principal, read_json
from recordings.access import may_see_call, require_call
from recordings.drafts import EDIT_SCHEMA
from recordings.files import PathEscapeError, absolute_path
from recordings.service import FEATURE_KINDS, RECORDINGS

routes = Routes(tag="recordings")

_RECORDING_FIELDS = ("id", "call_id", "server_id", "direction", "state", "size_bytes",
                     "duration_s", "sample_rate", "sha256", "checks", "last_error",
                     "call_ended_at", "registered_at", "deleted_at")


def _call_id(request: web.Request) -> str:
    call_id = request.match_info["call_id"]
    if not 0 < len(call_id) <= 128:
        raise BadRequest("通话编号不正确 (invalid call id)", code="invalid_call_id")
    return call_id


async def _visible_call_id(request: web.Request) -> str:
    """The route's call id, after the access rule of ``recordings.access`` (404 otherwise)."""
    call_id = _call_id(request)
    await require_call(request.app[RECORDINGS].registry.pool, principal(request), call_id)
    return call_id


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise BadRequest(f"{name} 必须是整数 (must be an integer)", code="invalid_id") from None


@routes.get("/api/calls/{call_id}/recordings", roles=READ_ROLES,
            summary="List a call's recordings (录音) with size, duration and checksum")
async def list_recordings(request: web.Request) -> web.Response:
    rec = request.app[RECORDINGS]
    rows = await rec.registry.files(await _visible_call_id(request))
    return json_response({"recordings": [{k: r[k] for k in _RECORDING_FIELDS} for r in rows]})


@routes.get("/api/recordings/{recording_id}/audio", roles=PLATFORM_ROLES,
            summary="Download / stream a recording (WAV, HTTP Range supported)")
async def recording_audio(request: web.Request) -> web.StreamResponse:
    rec = request.app[RECORDINGS]
    row = await rec.registry.pool.fetchrow(
        "SELECT call_id, path, state FROM recordings WHERE id = $1",
        _int(request, "recording_id"))
    if row is not None and not await may_see_call(rec.registry.pool, principal(request),
                                                  row["call_id"]):
        row = None  # the same answer as for an unknown id: existence is not revealed
    if row is None or row["state"] != "registered":
        state = row["state"] if row else None
        raise NotFound("录音不存在或已删除 (recording not available)",
                       code="recording_not_available", details={"state": state})
    try:
        path = absolute_path(rec.root, row["path"])
    except PathEscapeError:
        raise NotFound("录音不存在 (recording not available)",
                       code="recording_not_available") from None
    if not path.is_file():
        raise NotFound("录音文件丢失 (recording file missing)", code="recording_file_missing")
    # FileResponse answers Range requests with 206 / Content-Range (and 416 when unsatisfiable).
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Cache-Control": "private, no-store"})


@routes.get("/api/calls/{call_id}/transcript", roles=READ_ROLES,
            summary="The call's transcript: dialogue with speaker labels and word timings")
async def call_transcript(request: web.Request) -> web.Response:
    rec = request.app[RECORDINGS]
    call_id = await _visible_call_id(request)
    row = await rec.registry.pool.fetchrow("SELECT * FROM transcripts WHERE call_id = $1", call_id)
    if row is None:
        job = await rec.registry.pool.fetchrow(
            "SELECT state, last_error FROM jobs WHERE dedupe_key = $1", f"transcribe:{call_id}")
        raise NotFound("转写尚未完成 (no transcript yet)", code="transcript_not_ready",
                       details=dict(job) if job else None)
    return json_response({**dict(row), "orders": await rec.links.orders_of_call(call_id)})


@routes.get("/api/transcripts/by-order/{order_id}", roles=READ_ROLES,
            summary="The transcript attached to a work order (工单)")
async def order_transcript(request: web.Request) -> web.Response:
    rec = request.app[RECORDINGS]
    row = await rec.links.transcript_for_order(request.match_info["order_id"])
    if row is None:
        raise NotFound("该工单没有附带转写 (no transcript attached)", code="transcript_not_found")
    return json_response(row)


@routes.get("/api/calls/{call_id}/draft", roles=PLATFORM_ROLES,
            summary="The work-order draft from the citizen's words (工单草稿)")
async def get_draft(request: web.Request) -> web.Response:
    return json_response(await request.app[RECORDINGS].drafts.get(
        await _visible_call_id(request)))


@routes.patch("/api/calls/{call_id}/draft", roles=PLATFORM_ROLES, body=EDIT_SCHEMA,
              summary="Edit the draft (category, summary, phones, addresses, units)")
async def edit_draft(request: web.Request) -> web.Response:
    call_id = await _visible_call_id(request)
    body = await read_json(request, EDIT_SCHEMA)
    who = principal(request)
    return json_response(await request.app[RECORDINGS].drafts.edit(call_id, body, who.user_id))


@routes.post("/api/calls/{call_id}/draft/confirm", roles=PLATFORM_ROLES, body=EDIT_SCHEMA,
             summary="Confirm the draft, optionally with last edits")
async def confirm_draft(request: web.Request) -> web.Response:
    call_id = await _visible_call_id(request)
    body: dict[str, Any] = {}
    if request.can_read_body:
        body = await read_json(request, EDIT_SCHEMA)
    who = principal(request)
    return json_response(await request.app[RECORDINGS].drafts.edit(
        call_id, body, who.user_id, confirm=True))


_HOLD_SCHEMA = {"type": "object", "required": ["reason"], "additionalProperties": False,
                "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}}


@routes.post("/api/calls/{call_id}/recording-holds", roles=SUPERVISOR_ROLES, body=_HOLD_SCHEMA,
             summary="Keep a call's audio past the retention age (保全)")
async def add_hold(request: web.Request) -> web.Response:
    body = await read_json(request, _HOLD_SCHEMA)
    hold = await request.app[RECORDINGS].retention.add_hold(
        _call_id(request), body["reason"], principal(request).user_id)
    return json_response(hold, status=201)


@routes.delete("/api/recording-holds/{hold_id}", roles=SUPERVISOR_ROLES,
               summary="Release a hold")
async def release_hold(request: web.Request) -> web.Response:
    return json_response(await request.app[RECORDINGS].retention.release_hold(
        _int(request, "hold_id")))


@routes.get("/api/recordings/alerts", roles=SUPERVISOR_ROLES,
            summary="Missing or rejected recordings that need an operator")
async def alerts(request: web.Request) -> web.Response:
    return json_response({"alerts": await request.app[RECORDINGS].registry.alerts()})


@routes.get("/api/recordings/jobs", roles=SUPERVISOR_ROLES,
            summary="Registration / transcription jobs by state (dead letters are kept visible)",
            query={"state": {"type": "string", "enum": ["queued", "running", "done", "dead"]}})
async def jobs(request: web.Request) -> web.Response:
    state = request.query.get("state", "dead")
    if state not in ("queued", "running", "done", "dead"):
        raise BadRequest("state 参数不正确 (invalid state)", code="invalid_fields")
    rows = await request.app[RECORDINGS].registry.pool.fetch(
        """SELECT id, kind, payload, state, attempts, max_attempts, last_error, run_at,
                  updated_at, finished_at FROM jobs
           WHERE kind = ANY($1::text[]) AND state = $2 ORDER BY id DESC LIMIT 500""",
        list(FEATURE_KINDS), state)
    return json_response({"jobs": [dict(r) for r in rows]})


@routes.post("/api/recordings/jobs/{job_id}/requeue", roles=SUPERVISOR_ROLES,
             summary="Run a dead (or done) recordings job again")
async def requeue(request: web.Request) -> web.Response:
    rec = request.app[RECORDINGS]
    job = await rec.queue.get(_int(request, "job_id"))
    if job is None or job.kind not in FEATURE_KINDS:
        raise NotFound("任务不存在 (no such job)", code="job_not_found")
    if not await rec.queue.requeue(job.id):
        raise BadRequest("只能重跑已失败或已完成的任务 (only dead or done jobs)",
                         code="job_not_finished")
    return json_response({"id": job.id, "state": "queued"})


@routes.get("/api/calls/{call_id}/live-transcript", roles=PLATFORM_ROLES, websocket=True,
            summary="WebSocket: live transcript lines of a call in progress")
async def live_transcript(request: web.Request) -> web.StreamResponse:
    rec = request.app[RECORDINGS]
    call_id = await _visible_call_id(request)  # before the upgrade: a plain 404
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sub = rec.hub.subscribe(call_id)

    async def pump() -> None:
        async for event in sub:  # ends after the "end" event
            await ws.send_json(event)
        await ws.close()

    pumping = asyncio.create_task(pump())
    try:
        async for msg in ws:  # until the browser or pump() closes the socket
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pumping
        sub.close()
    return ws
