"""Route declarations with roles and OpenAPI metadata, JSON body parsing and responses.

Every feature declares its routes on a module-level :class:`Routes`; the composition root mounts
them, enforces the declared roles before a handler runs and publishes them in ``/api/openapi.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from kit.auth import Principal, Role
from kit.errors import BadRequest, Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RolesArg = Iterable[Role | str] | Literal["public"]

PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
"""Key of the :class:`Principal` in ``request`` (set by the auth guard)."""
AUTH_KIND_KEY: web.RequestKey[str] = web.RequestKey("auth_kind", str)
"""How the caller authenticated: ``"cookie"`` or ``"bearer"``."""
CSRF_KEY: web.RequestKey[str] = web.RequestKey("csrf_token", str)
"""The CSRF token of a cookie session."""
STILL_VALID_KEY: web.RequestKey[Callable[[], Awaitable[bool]]] = web.RequestKey(
    "session_still_valid", object  # type: ignore[arg-type]
)
"""For long-lived requests (WebSockets): ``await request[STILL_VALID_KEY]()`` tells whether the
caller's session or token is still live (not revoked, not expired, user still active)."""


@dataclass(frozen=True)
class RouteSpec:
    """One declared route: what it serves, who may call it and how it is documented."""

    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None  # None = public
    summary: str
    tag: str
    body: dict[str, Any] | None = None
    query: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    websocket: bool = False
    csrf: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Routes:
    """A feature's route table."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: RolesArg,
        summary: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        websocket: bool = False,
        csrf: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` for ``method path``; ``roles`` is mandatory."""
        if roles == "public":
            role_set: frozenset[Role] | None = None
        else:
            role_set = frozenset(Role(r) for r in roles)
            if not role_set:
                raise ValueError(f"{method} {path}: empty role set")

        def deco(handler: Handler) -> Handler:
            self.specs.append(
                RouteSpec(
                    method.upper(),
                    path,
                    handler,
                    role_set,
                    summary,
                    self.tag,
                    body,
                    query,
                    response,
                    websocket,
                    csrf,
                )
            )
            return handler

        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a GET route."""
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a POST route."""
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a PUT route."""
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a PATCH route."""
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a DELETE route."""
        return self.route("DELETE", path, **kw)


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the middleware guarantees one on non-public routes)."""
    who = request.get(PRINCIPAL_KEY)
    if who is None:
        raise Unauthorized("请先登录 (login required)")
    return who


def optional_principal(request: web.Request) -> Principal | None:
    """The caller if logged in, else None (for public routes)."""
    return request.get(PRINCIPAL_KEY)


# --- JSON ------------------------------------------------------------------------------------


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime | dt.date | dt.time):
        return o.isoformat()
    if isinstance(o, dt.timedelta):
        return o.total_seconds()
    if isinstance(o, decimal.Decimal):
        return float(o)
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, enum.Enum):
        return o.value
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(data: Any) -> str:
    """JSON text with our type conversions; Chinese kept readable."""
    return json.dumps(data, default=_default, ensure_ascii=False)


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with ISO dates, Decimals, UUIDs, enums and dataclasses converted."""
    return web.Response(
        text=dumps(data), status=status, content_type="application/json", headers=headers
    )


async def read_json(request: web.Request, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse the body as a JSON object and validate it; any problem is a 400 naming the field."""
    raw = await request.read()
    if not raw:
        raise BadRequest("请求体为空 (empty body, a JSON object is expected)", code="invalid_json")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(
            "请求体不是合法的 JSON (malformed JSON)",
            code="invalid_json",
            details={"error": str(exc)[:200]},
        ) from None
    bad = _unstorable(data)
    if bad is not None:
        raise BadRequest(
            "请求体含有无法保存的字符 (NUL or unpaired surrogate)",
            code="invalid_json",
            details={"field": bad},
        )
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是 JSON 对象 (a JSON object is expected)", code="invalid_json")
    if schema is not None:
        errors = validate(data, schema)
        if errors:
            raise BadRequest(
                "请求参数不正确 (invalid fields)", code="invalid_fields", details=errors
            )
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unstorable(value: Any, path: str = "$") -> str | None:
    """Path of the first string PostgreSQL cannot store (NUL, lone surrogate), else None."""
    if isinstance(value, str):
        if "\x00" in value:
            return path
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _unstorable(k, path) or _unstorable(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _unstorable(v, f"{path}[{i}]")
            if found:
                return found
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[dict[str, str]]:
    """Validate ``value`` against the JSON Schema subset we use; returns a list of problems."""
    errs: list[dict[str, str]] = []
    where = path or "$"
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        ok = False
        for n in names:
            py = _TYPES[n]
            if isinstance(value, py) and not (
                n in ("integer", "number") and isinstance(value, bool)
            ):
                ok = True
        if not ok:
            return [{"field": where, "problem": f"must be {' or '.join(names)}"}]
    if "enum" in schema and value not in schema["enum"]:
        errs.append({"field": where, "problem": f"must be one of {schema['enum']}"})
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append({"field": where, "problem": f"longer than {schema['maxLength']}"})
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append({"field": where, "problem": f"shorter than {schema['minLength']}"})
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append({"field": where, "problem": f"less than {schema['minimum']}"})
        if "maximum" in schema and value > schema["maximum"]:
            errs.append({"field": where, "problem": f"greater than {schema['maximum']}"})
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errs.append({"field": f"{path}.{req}" if path else req, "problem": "required"})
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if k in props:
                errs.extend(validate(v, props[k], sub))
            elif schema.get("additionalProperties") is False:
                errs.append({"field": sub, "problem": "unknown field"})
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append({"field": where, "problem": f"more than {schema['maxItems']} items"})
        if "items" in schema:
            for i, item in enumerate(value):
                errs.extend(validate(item, schema["items"], f"{where}[{i}]"))
    return errs


def query_int(
    request: web.Request, name: str, default: int, *, lo: int = 0, hi: int = 10_000
) -> int:
    """An integer query parameter within bounds, or a 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(
            f"参数 {name} 必须是整数", code="invalid_query", details={"field": name}
        ) from None
    if not lo <= v <= hi:
        raise BadRequest(
            f"参数 {name} 超出范围 [{lo}, {hi}]", code="invalid_query", details={"field": name}
        )
    return v
