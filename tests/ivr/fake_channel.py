"""In-memory `AgiChannel` for flow tests, behaving like Asterisk 22 (trace 11) on hang-up."""

from __future__ import annotations

from collections.abc import Iterable

from pbx.agi.protocol import AgiEnvironment, CallerHungUp, parse_environment


def make_env(script: str = "ivr", args: Iterable[str] = ("13800138000",),
             uniqueid: str = "pbx1-1795837952.0", callerid: str = "13800138000") -> AgiEnvironment:
    """An environment like trace 02's."""
    lines = [f"agi_network_script: {script}", f"agi_uniqueid: {uniqueid}",
             f"agi_callerid: {callerid}", "agi_channel: PJSIP/citizen-trunk-00000000",
             "agi_language: en"]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return parse_environment(lines)


class FakeChannel:
    """Answers flow commands from a list of keys; ``hang_up_at`` = index of the command during
    which the caller hangs up. After that, media commands raise `CallerHungUp` (511) while
    variable commands and VERBOSE still work, as on a real dead channel."""

    def __init__(self, keys: Iterable[str | None] = (), *, hang_up_at: int | None = None,
                 env: AgiEnvironment | None = None,
                 variables: dict[str, str] | None = None) -> None:
        self.env = env or make_env()
        self.keys = list(keys)
        self.hang_up_at = hang_up_at
        self.variables: dict[str, str] = dict(variables or {})
        self.log: list[tuple[str, str]] = []
        self.dead = False

    def _cmd(self, name: str, arg: str = "", media: bool = True) -> None:
        index = len(self.log)
        self.log.append((name, arg))
        if self.hang_up_at is not None and index >= self.hang_up_at:
            self.dead = True
        if self.dead and media:
            raise CallerHungUp("result=-1" if index == self.hang_up_at else "511 dead channel",
                               name)

    def _key(self) -> str:
        if not self.keys:
            return ""
        return self.keys.pop(0) or ""

    @property
    def prompts(self) -> list[str]:
        """Prompts played or used by GET DATA, in order."""
        return [a for n, a in self.log if n in ("stream_file", "get_data")]

    @property
    def commands(self) -> list[str]:
        """Command names in order."""
        return [n for n, _ in self.log]

    async def answer(self) -> None:
        self._cmd("answer")

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        self._cmd("stream_file", name)
        return None

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        self._cmd("get_data", prompt)
        return self._key()[:max_digits]

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._cmd("wait_for_digit")
        return self._key()[:1] or None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self._cmd("say_digits", digits)
        return None

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        self._cmd("say_number", str(number))
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self._cmd("set_variable", f"{name}={value}", media=False)
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        self._cmd("get_variable", name, media=False)
        return self.variables.get(name)

    async def exec(self, application: str, *args: str) -> int:
        self._cmd("exec", application)
        return 0

    async def verbose(self, message: str, level: int = 1) -> None:
        self._cmd("verbose", message, media=False)

    async def hangup(self) -> None:
        self._cmd("hangup")
        self.dead = True
