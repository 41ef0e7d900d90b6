"""A small parser for Asterisk ``.conf`` files, enough to check ``asterisk-config/``.

Handles sections ``[name]``, templates ``[name](!)`` and inheritance ``[name](tpl,other)``,
``key = value`` / ``key => value``, ``;`` comments (``\\;`` is a literal semicolon),
``#include`` / ``#tryinclude`` (relative to the including file; included lines continue the
current section, like Asterisk), and for ``extensions.conf`` the ``exten =>`` / ``same =>`` /
``include =>`` lines. Malformed lines raise ``ConfError`` naming file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


class ConfError(Exception):
    """A malformed line, an unknown template or a missing ``#include``."""


@dataclass
class Section:
    name: str
    file: str
    line: int
    template: bool = False
    inherits: list[str] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        for k, v in reversed(self.items):
            if k == key:
                return v
        return None

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]


@dataclass
class Conf:
    path: Path
    sections: list[Section] = field(default_factory=list)
    includes: list[tuple[str, bool]] = field(default_factory=list)  # (file, found)

    def all(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    def section(self, name: str) -> Section:
        found = self.all(name)
        if not found:
            raise KeyError(name)
        return found[0]

    def names(self, *, templates: bool = False) -> list[str]:
        return [s.name for s in self.sections if templates or not s.template]

    def resolved(self, name: str) -> dict[str, str]:
        """Items of a section with its templates applied (last value wins)."""
        sec = self.section(name)
        out: dict[str, str] = {}
        for tpl in sec.inherits:
            out.update(self.resolved(tpl))
        for k, v in sec.items:
            out[k] = v
        return out


_SECTION = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?$")


def _strip_comment(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def parse(path: Path) -> Conf:
    """Parse one file and what it includes."""
    conf = Conf(path)
    _parse_into(conf, path, None, depth=0)
    names = set(conf.names(templates=True))
    for sec in conf.sections:
        for tpl in sec.inherits:
            if tpl not in names:
                raise ConfError(f"{sec.file}:{sec.line}: [{sec.name}] inherits unknown [{tpl}]")
    return conf


def _parse_into(conf: Conf, path: Path, current: Section | None, depth: int) -> Section | None:
    if depth > 10:
        raise ConfError(f"{path}: #include nesting too deep")
    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        where = f"{path.name}:{no}"
        if line.startswith("#"):
            directive, _, arg = line.partition(" ")
            arg = arg.strip().strip('"')
            if directive not in ("#include", "#tryinclude") or not arg:
                raise ConfError(f"{where}: unknown directive {line!r}")
            target = path.parent / arg
            found = target.exists()
            conf.includes.append((arg, found))
            if not found:
                if directive == "#include":
                    raise ConfError(f"{where}: #include of missing file {arg}")
                continue
            current = _parse_into(conf, target, current, depth + 1)
            continue
        m = _SECTION.match(line)
        if m:
            opts = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()]
            current = Section(
                m.group(1).strip(),
                path.name,
                no,
                template="!" in opts,
                inherits=[o for o in opts if o not in ("!", "+")],
            )
            conf.sections.append(current)
            continue
        if current is None:
            raise ConfError(f"{where}: setting outside of any [section]: {line!r}")
        if "=>" in line and (line.index("=>") < line.index("=") + 1 if "=" in line else True):
            key, _, value = line.partition("=>")
        elif "=" in line:
            key, _, value = line.partition("=")
        else:
            raise ConfError(f"{where}: expected key = value: {line!r}")
        key = key.strip()
        if not key:
            raise ConfError(f"{where}: empty key: {line!r}")
        current.items.append((key, value.strip()))
    return current


# ----------------------------------------------------------------------- dialplan
@dataclass
class Step:
    exten: str
    priority: str
    label: str | None
    app: str
    args: str
    where: str


@dataclass
class Context:
    name: str
    steps: list[Step] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    @property
    def extens(self) -> set[str]:
        return {s.exten for s in self.steps}


_APP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?$")
_PRIO = re.compile(r"^(\d+|n|hint)(?:\(([A-Za-z0-9_-]+)\))?$")


def dialplan(conf: Conf) -> dict[str, Context]:
    """Contexts of an ``extensions.conf`` (``[general]`` and ``[globals]`` excluded)."""
    out: dict[str, Context] = {}
    for sec in conf.sections:
        if sec.name in ("general", "globals") or sec.template:
            continue
        ctx = out.setdefault(sec.name, Context(sec.name))
        last: str | None = None
        for key, value in sec.items:
            where = f"{sec.file}[{sec.name}]"
            if key == "include":
                ctx.includes.append(value)
                continue
            if key == "exten":
                exten, _, rest = value.partition(",")
                exten = exten.strip()
                last = exten
            elif key == "same":
                if last is None:
                    raise ConfError(f"{where}: 'same =>' before any 'exten =>'")
                exten, rest = last, value
            else:
                continue
            prio, _, app = rest.partition(",")
            pm = _PRIO.match(prio.strip())
            am = _APP.match(app.strip())
            if not pm or not am:
                raise ConfError(f"{where}: bad step {key} => {value!r}")
            ctx.steps.append(
                Step(exten, pm.group(1), pm.group(2), am.group(1), am.group(2) or "", where)
            )
    return out


def expand_globals(text: str, globals_: dict[str, str]) -> str:
    """Replace ``${NAME}`` of known globals (other expressions are left alone)."""
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: globals_.get(m.group(1), m.group(0)), text)
