#!/usr/bin/env python3
"""Place a simulated citizen call against a running backend — no Asterisk needed.

It plays the part of Asterisk with the same fakes the test suite uses: an AMI server the backend
connects to (set ``HOTLINE_AMI`` to point at it) and a channel that answers the FastAGI IVR.
The call goes: IVR (menu key of your choice) → queue → your agent's phone rings (the console
pops) → answered → talk → hang-up with three MixMonitor files (citizen, agent, mix) spoken by
espeak-ng → the backend registers them (and transcribes them when a Vosk model is configured).

    # terminal 1: the backend, pointed at the simulator's AMI port
    HOTLINE_AMI="pbx1=hotline:simulator@127.0.0.1:5039" ./scripts/serve.sh
    # terminal 2: set up agent 1001 (once), then place calls
    .venv/bin/python scripts/simulate_call.py --setup
    .venv/bin/python scripts/simulate_call.py --key 2 --talk 30

Open http://127.0.0.1:8080/console/ as the agent (``--setup`` prints its password), log in to
the queue (签入) and the pop appears when the call rings; register the order while it talks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.prompts.build import synthesize  # noqa: E402
from tests.agents.scripted import ScriptedCall  # noqa: E402
from tests.fakes.fake_agi import FakeCaller  # noqa: E402
from tests.fakes.fake_ami import FakeAmi  # noqa: E402
from tests.fakes.queue_sim import QueueSim  # noqa: E402

QUEUES = {"1": "hotline-consult", "2": "hotline-complaint", "3": "hotline-report",
          "4": "hotline-help", "5": "hotline-suggest", "6": "hotline-bizenv",
          "0": "hotline-general"}  # fmt: skip
CITIZEN_SAYS = ("你好,我要投诉。武进区湖塘镇聚湖东路的工地晚上十二点还在打桩,"
                "吵得睡不着觉,我的电话是一三八零零一三八零零零。")  # fmt: skip
AGENT_SAYS = "您好,这里是一二三四五热线,请讲。好的,我给您登记,会尽快转交相关部门办理。"


class MenuCaller(FakeCaller):
    """Answers the IVR by prompt: no emergency, no status read-back, then the menu key."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def _live(self, cmd: str) -> bytes:
        if cmd.startswith("GET DATA"):
            prompt = cmd.split(" ")[2]
            typed = self.key if prompt.endswith("main-menu") else (
                "2" if prompt.endswith("known-caller-offer") else "")
            return f"200 result={typed}{' (timeout)' if not typed else ''}\n".encode()
        return super()._live(cmd)


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None,
        token: str | None = None) -> tuple[int, Any]:
    """A JSON request to the backend."""
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def setup_agent(args: argparse.Namespace) -> None:
    """Create user agent<ext> with that extension and register it as an agent (idempotent)."""
    pw_file = Path(args.data_dir) / "initial-admin-password"
    admin_pw = args.admin_password or (pw_file.read_text().strip() if pw_file.exists() else "")
    status, body = api(args.url, "POST", "/api/auth/tokens",
                       {"username": "admin", "password": admin_pw})
    if status != 201:
        sys.exit(f"admin login failed ({status}): give --admin-password")
    token = body["token"]
    name, password = f"agent{args.agent}", "agent-" + secrets.token_hex(4)
    status, user = api(args.url, "POST", "/api/users", {
        "username": name, "password": password, "role": "agent",
        "display_name": f"坐席{args.agent}", "extension": args.agent}, token)
    if status == 409:
        print(f"user {name} exists already (password unchanged)")
        users = api(args.url, "GET", "/api/users", token=token)[1]["items"]
        user = next(u for u in users if u["username"] == name)
    elif status != 201:
        sys.exit(f"could not create {name}: {user}")
    else:
        print(f"created user {name}, password {password}")
    status, body = api(args.url, "POST", "/api/agents", {
        "user_id": user["id"], "server": "pbx1", "interface": f"PJSIP/agent{args.agent}",
        "extension": args.agent}, token)
    print("registered as agent" if status == 201 else f"agent registration: {status} {body}")


def write_recordings(directory: Path, linkedid: str) -> dict[str, Path]:
    """The three MixMonitor files of the call, as the hotline dialplan names them."""
    directory.mkdir(parents=True, exist_ok=True)
    base = directory.resolve() / linkedid
    citizen = synthesize(CITIZEN_SAYS, Path(f"{base}-in.wav"), speed=140)
    agent = synthesize(AGENT_SAYS, Path(f"{base}-out.wav"), speed=150)
    mix = Path(f"{base}.wav")
    subprocess.run(["sox", "-m", str(citizen), str(agent), str(mix)], check=True)
    return {"mix": mix, "in": citizen, "out": agent}


async def place_call(args: argparse.Namespace) -> None:
    fake = FakeAmi(secret=args.secret, port=args.ami_port)
    sim = QueueSim(fake)
    sim.queues |= set(QUEUES.values())
    await fake.start()
    print(f"fake Asterisk AMI on 127.0.0.1:{fake.port}; waiting for the backend to log in …")
    try:
        await fake.wait_login(timeout=60)
        interface = f"PJSIP/agent{args.agent}"
        queue = QUEUES[args.key]
        print(f"waiting for {interface} to log in to {queue} (console: 签入) …")
        deadline = time.monotonic() + args.wait_agent
        while (queue, interface) not in sim.members:
            if time.monotonic() > deadline:
                sys.exit(f"{interface} is not in {queue}: log in to the queue in the console")
            await asyncio.sleep(0.5)
        call = ScriptedCall(n=int(time.time()) % 100000, caller=args.caller,
                            agent_ext=args.agent, queue=queue, choice=args.key)
        host, port = args.agi.rsplit(":", 1)
        channel = await MenuCaller(args.key).call(
            host, int(port), "ivr", args=[args.caller], agi_uniqueid=call.linkedid,
            agi_channel=call.citizen, agi_callerid=args.caller)
        print(f"IVR done: {channel.variables}")
        # Asterisk reports each AGI SET VARIABLE as a VarSet event on the citizen's channel.
        arrive = call.arrive()
        ivr_vars = [[*call._base("VarSet"), *call._citizen(), ("Variable", name), ("Value", value)]
                    for name, value in channel.variables.items()
                    if name in ("HOTLINE_CATEGORY", "HOTLINE_LANG")]
        for event in [arrive[0], *ivr_vars, *arrive[1:], *call.ring()]:
            fake.send_event(event)
        print(f"ringing {interface} … (call {call.call_id})")
        await asyncio.sleep(args.ring)
        for event in call.answer(hold=int(args.ring)):
            fake.send_event(event)
        print(f"answered; talking for {args.talk} s — register the order in the console now")
        files = write_recordings(Path(args.recordings), call.linkedid)
        await asyncio.sleep(args.talk)
        user_event = [*call._base("UserEvent"), *call._citizen(),
                      ("UserEvent", "HotlineRecording"), ("Mixed", str(files["mix"])),
                      ("In", str(files["in"])), ("Out", str(files["out"])),
                      ("HangupCause", "16")]
        for event in [*call.complete(talk=int(args.talk)), user_event, *call.hangup()]:
            fake.send_event(event)
        print(f"hung up; recordings: {files['mix'].parent}")
        print(f"see {args.url}/api/calls/{call.call_id}/recordings (and /transcript, /draft)")
        await asyncio.sleep(1.0)
    finally:
        await fake.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the backend")
    p.add_argument("--ami-port", type=int, default=5039, help="port of the fake AMI server")
    p.add_argument("--secret", default="simulator", help="AMI secret the backend logs in with")
    p.add_argument("--agi", default="127.0.0.1:4573", help="the backend's FastAGI server")
    p.add_argument("--caller", default="13800138000")
    p.add_argument("--key", default="2", choices=sorted(QUEUES), help="IVR menu key (2 = 投诉)")
    p.add_argument("--agent", default="1001", help="extension of the agent to ring")
    p.add_argument("--ring", type=float, default=3.0, help="seconds of ringing")
    p.add_argument("--talk", type=float, default=20.0, help="seconds of talk")
    p.add_argument("--wait-agent", type=float, default=300.0,
                   help="seconds to wait for the agent to log in to the queue")
    p.add_argument("--recordings", default="var/recordings", help="HOTLINE_RECORDINGS_DIR")
    p.add_argument("--data-dir", default="var", help="HOTLINE_DATA_DIR (admin password file)")
    p.add_argument("--setup", action="store_true", help="create and register the agent, then exit")
    p.add_argument("--admin-password", help="default: <data-dir>/initial-admin-password")
    args = p.parse_args()
    if args.setup:
        setup_agent(args)
        return
    asyncio.run(place_call(args))


if __name__ == "__main__":
    main()
