"""``asterisk-config/`` parses and holds every name the backend relies on (``pbx.dialplan``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pbx import dialplan as dp
from tests.pbx.asterisk_conf import Conf, ConfError, dialplan, expand_globals, parse

ROOT = Path(__file__).resolve().parents[2] / "asterisk-config"
REQUIRED = (
    "asterisk.conf",
    "extensions.conf",
    "queues.conf",
    "pjsip.conf",
    "manager.conf",
    "confbridge.conf",
    "musiconhold.conf",
    "modules.conf",
    "features.conf",
)


@pytest.fixture(scope="module")
def confs() -> dict[str, Conf]:
    return {p.name: parse(p) for p in sorted(ROOT.glob("*.conf"))}


@pytest.fixture(scope="module")
def plan(confs: dict[str, Conf]) -> dict:
    return dialplan(confs["extensions.conf"])


@pytest.fixture(scope="module")
def globals_(confs: dict[str, Conf]) -> dict[str, str]:
    return dict(confs["extensions.conf"].section("globals").items)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Conf]:
    """The directory as a site installs it: every *.sample copied to its real name."""
    dest = tmp_path_factory.mktemp("etc") / "asterisk"
    shutil.copytree(ROOT, dest)
    fragments = set()
    for sample in dest.glob("*.sample"):
        shutil.copy(sample, sample.with_suffix(""))
        fragments.add(sample.stem)  # included files are parsed through their includer
    return {p.name: parse(p) for p in sorted(dest.glob("*.conf")) if p.name not in fragments}


def test_every_file_parses_including_samples(
    confs: dict[str, Conf], installed: dict[str, Conf], globals_: dict[str, str]
) -> None:
    for name in REQUIRED:
        assert name in confs, name
    assert all(found for c in installed.values() for _, found in c.includes)
    pj = installed["pjsip.conf"]
    # the trunk named in the dialplan exists once the samples are installed
    assert pj.resolved(globals_["TRUNK"])["context"] == dp.CTX_INBOUND
    assert pj.resolved("agent1001")["context"] == dp.CTX_AGENTS
    assert installed["manager.conf"].section(dp.AMI_USER).get("secret")
    assert (ROOT / "README.md").is_file()
    # the secrets are #tryinclude'd, never #include'd (Asterisk must start without them)
    inc = {f for c in confs.values() for f, _ in c.includes}
    assert {"manager-hotline.conf", "pjsip-trunk.conf", "pjsip-agents.conf"} <= inc
    for f in inc:
        assert (ROOT / f"{f}.sample").is_file(), f"{f} has no .sample"


def test_asterisk_conf_points_at_this_directory(confs: dict[str, Conf]) -> None:
    sec = confs["asterisk.conf"].section("directories")
    assert not sec.template, "[directories](!) is a template and would be ignored"
    assert sec.get("astetcdir")
    assert confs["asterisk.conf"].section("options").get("systemname")


def test_every_context_the_backend_uses_exists(plan: dict) -> None:
    names = [v for k, v in vars(dp).items() if k.startswith("CTX_")]
    assert len(names) >= 10
    for ctx in names:
        assert ctx in plan, ctx
    assert dp.EXTEN_HOTLINE in plan[dp.CTX_INBOUND].extens
    assert {dp.EXTEN_SURVEY, dp.EXTEN_CALLBACK} <= plan[dp.CTX_OUTBOUND].extens
    assert set(dp.SUPERVISOR_EXTENS) <= plan[dp.CTX_SUPERVISOR].extens
    assert set(dp.EMERGENCY_EXTENS) <= plan[dp.CTX_EMERGENCY].extens
    assert f"_{dp.CONFERENCE_PREFIX}." in plan[dp.CTX_CONFERENCE].extens
    for ctx in (dp.CTX_HANGUP, dp.CTX_QUEUE_EXIT, dp.CTX_POST_CALL):
        assert "s" in plan[ctx].extens
    assert dp.CTX_INTERNAL in plan[dp.CTX_AGENTS].includes


def test_every_goto_and_include_target_exists(plan: dict) -> None:
    for ctx in plan.values():
        for inc in ctx.includes:
            assert inc in plan, f"{ctx.name} includes unknown {inc}"
        labels = {s.label for s in ctx.steps if s.label}
        for step in ctx.steps:
            if step.app in ("Goto", "GotoIf", "Gosub"):
                for target in re.split(r"[?:]", step.args.split("?", 1)[-1]):
                    parts = [p.strip() for p in target.split(",")]
                    if len(parts) == 3:
                        assert parts[0] in plan, f"{step.where}: {step.app}({step.args})"
                    elif len(parts) == 1 and parts[0] and not parts[0].startswith("$"):
                        assert parts[0] in labels, f"{step.where}: unknown label {parts[0]}"
            if "hangup_handler_push" in step.args:
                assert step.args.split("=", 1)[1].split(",")[0] in plan


def test_patterns_avoid_the_nxz_wildcard_pitfall(plan: dict) -> None:
    """In a ``_`` pattern N, X, Z are wildcards in either case: ``_conf-.`` never matched."""
    for ctx in plan.values():
        for exten in ctx.extens:
            if exten.startswith("_"):
                assert not re.search(r"[nxz]", exten[1:]), f"{ctx.name}: {exten}"


def test_agi_urls(plan: dict, globals_: dict[str, str]) -> None:
    used = set()
    for ctx in plan.values():
        for step in ctx.steps:
            if step.app == "AGI":
                url = expand_globals(step.args.split(",")[0], globals_)
                assert url in dp.AGI_URLS, f"{step.where}: {url}"
                used.add(url)
    assert used == set(dp.AGI_URLS)
    assert globals_["AGI_HOST"] == dp.AGI_HOST_DEFAULT


def test_recording_and_hangup_handler(plan: dict) -> None:
    rec = plan["hotline-record"].steps
    mix = next(s for s in rec if s.app == "MixMonitor")
    assert "r(${HOTLINE_REC}-in.wav)" in mix.args and "t(${HOTLINE_REC}-out.wav)" in mix.args
    assert any("hangup_handler_push)=hotline-hangup" in s.args for s in rec)
    hangup = plan[dp.CTX_HANGUP].steps
    assert [s.app for s in hangup][:4] == ["NoOp", "StopMixMonitor", "UserEvent", "Return"]
    ue = hangup[2].args
    assert ue.startswith(dp.USER_EVENT_RECORDING + ",")
    for key in ("Mixed:", "In:", "Out:", "HangupCause:"):
        assert key in ue
    # every Queue() call allows attended transfer (option t) for AMI Atxfer
    queues = [s for c in plan.values() for s in c.steps if s.app == "Queue"]
    assert len(queues) >= 3
    for q in queues:
        assert "t" in q.args.rsplit(")", 1)[-1].split(",")[1], q.where


def test_queues(confs: dict[str, Conf]) -> None:
    qc = confs["queues.conf"]
    for name in dp.ALL_QUEUES:
        q = qc.resolved(name)
        assert q["servicelevel"] == str(dp.SERVICE_LEVEL_SECONDS), name
        assert q["announce-position"] == "yes"
        assert int(q["wrapuptime"]) > 0
        assert q["musicclass"] in confs["musiconhold.conf"].names()
        assert q["setinterfacevar"] == "yes"  # MEMBERINTERFACE drives the post-call survey
    assert set(qc.names()) - {"general"} == set(dp.ALL_QUEUES)


def test_features_confbridge_and_pjsip(confs: dict[str, Conf], plan: dict) -> None:
    fm = confs["features.conf"].section("featuremap")
    assert fm.get("atxfer") == dp.FEATURE_ATXFER and fm.get("blindxfer") == dp.FEATURE_BLINDXFER
    conf_step = next(s for s in plan[dp.CTX_CONFERENCE].steps if s.app == "ConfBridge")
    _, bridge, user = conf_step.args.split(",")
    cb = confs["confbridge.conf"]
    assert cb.resolved(bridge)["type"] == "bridge" and cb.resolved(user)["type"] == "user"
    pj = confs["pjsip.conf"]
    for tpl in ("hl-trunk", "hl-agent", "hl-agent-aor", "hl-auth", "hl-phone"):
        assert pj.section(tpl).template
    assert pj.resolved("hl-agent")["context"] == dp.CTX_AGENTS
    assert pj.resolved("hl-trunk")["context"] == dp.CTX_INBOUND


def test_manager_user_is_least_privilege_and_has_no_secret(confs: dict[str, Conf]) -> None:
    mc = confs["manager.conf"]
    assert mc.section("general").get("timestampevents") == "yes"
    user = mc.section(dp.AMI_USER)
    read, write = set(user.get("read").split(",")), set(user.get("write").split(","))
    assert "all" not in read | write
    assert not {"command", "config", "system"} & write
    assert {"call", "agent", "user", "dialplan"} <= read
    assert {"call", "agent", "originate", "reporting"} <= write
    assert user.get("secret") is None, "the secret comes from manager-hotline.conf"
    assert user.get("permit")


def test_no_committed_secrets(confs: dict[str, Conf]) -> None:
    for name, conf in confs.items():
        for sec in conf.sections:
            for key, _value in sec.items:
                if key in ("secret", "password", "md5_cred"):
                    pytest.fail(f"{name} [{sec.name}] has a {key}")
    for sample in ROOT.glob("*.sample"):
        for line in sample.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("secret", "password"):
                assert "change-me" in value, f"{sample.name}: real-looking {key}"


def test_parser_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.conf"
    bad.write_text("key = value\n")
    with pytest.raises(ConfError, match="outside of any"):
        parse(bad)
    bad.write_text("[a]\nno equals sign\n")
    with pytest.raises(ConfError, match="expected key"):
        parse(bad)
    bad.write_text("[a](missing)\nk = v\n")
    with pytest.raises(ConfError, match="unknown"):
        parse(bad)
    bad.write_text("[a]\n#include nothere.conf\n")
    with pytest.raises(ConfError, match="missing file"):
        parse(bad)
    bad.write_text("[a]\n#tryinclude nothere.conf\nk = v \\; not a comment ; comment\n")
    assert parse(bad).section("a").get("k") == "v ; not a comment"
    bad.write_text("[c]\nsame => n,NoOp()\n")
    with pytest.raises(ConfError, match="before any"):
        dialplan(parse(bad))


def test_backend_outage_does_not_drop_callers() -> None:
    """AGISTATUS FAILURE (FastAGI unreachable) must fall through to the general queue; only a
    caller's hang-up in the IVR ends the call."""
    text = (ROOT / "extensions.conf").read_text()
    inbound = text[text.index("\n[from-trunk]"):]
    inbound = inbound[: inbound.index("\n[", 1)]
    assert '"${AGISTATUS}" = "HANGUP"' in inbound
    assert '!= "SUCCESS"' not in inbound
    assert "Set(HOTLINE_QUEUE=hotline-general)" in inbound


def test_post_call_rating_names_the_call_as_the_backend_does(plan: dict,
                                                             globals_: dict[str, str]) -> None:
    # Orders link calls as "<AMI server id>:<Linkedid>"; the 好差评 rating must use the same key,
    # so the dialplan passes this server's id (HOTLINE_SERVER) with the inbound Uniqueid.
    from hotline.settings import AmiServer

    step = next(s for s in plan[dp.CTX_POST_CALL].steps if s.app == "AGI")
    _url, arg = step.args.split(",", 1)
    assert arg == "${HOTLINE_SERVER}:${HOTLINE_CALLID}"
    AmiServer(id=globals_["HOTLINE_SERVER"], host="h", port=5038, username="u",
              secret="s").validate()
    inbound = plan[dp.CTX_INBOUND].steps
    assert any(s.app == "Set" and s.args == "__HOTLINE_CALLID=${UNIQUEID}" for s in inbound)


def test_every_context_a_citizen_reaches_is_adopted_after_a_restart(plan: dict) -> None:
    """A resync adopts the citizen's channel wherever it is (``pbx.calls.adopt_rules``): every
    context reachable from ``from-trunk`` through Goto/GotoIf/Gosub and the hangup handler,
    plus where call control moves the citizen (BlindTransfer/Atxfer → hotline-internal,
    the three-way Redirect → hotline-conf), must be in ``dp.INBOUND_PATH_CONTEXTS``."""
    seen: set[str] = set()
    todo = [dp.CTX_INBOUND, dp.CTX_INTERNAL, dp.CTX_CONFERENCE]
    while todo:
        ctx = todo.pop()
        if ctx in seen:
            continue
        seen.add(ctx)
        todo.extend(plan[ctx].includes)
        for step in plan[ctx].steps:
            if step.app in ("Goto", "GotoIf", "Gosub"):
                for target in re.split(r"[?:]", step.args.split("?", 1)[-1]):
                    parts = [p.strip() for p in target.split(",")]
                    if len(parts) == 3:
                        todo.append(parts[0])
            if "hangup_handler_push" in step.args:
                todo.append(step.args.split("=", 1)[1].split(",")[0])
    assert seen == dp.INBOUND_PATH_CONTEXTS
    assert dp.CTX_OUTBOUND in dp.OUTBOUND_CONTEXTS and not seen & dp.OUTBOUND_CONTEXTS
