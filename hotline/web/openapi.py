"""The OpenAPI 3 document, generated from the declared routes (so it cannot drift)."""

from __future__ import annotations

import re
from typing import Any

from kit.http import RouteSpec

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
            "required": ["code", "message"],
        }
    },
}


def openapi_document(specs: list[RouteSpec], version: str) -> dict[str, Any]:
    """OpenAPI 3.0 document for ``specs``."""
    paths: dict[str, dict[str, Any]] = {}
    for s in specs:
        op: dict[str, Any] = {
            "summary": s.summary,
            "tags": [s.tag],
            "operationId": f"{s.tag}_{s.handler.__name__}_{s.method.lower()}",
            "responses": {
                "200": {
                    "description": "OK",
                    **(
                        {"content": {"application/json": {"schema": s.response}}}
                        if s.response
                        else {}
                    ),
                },
                "default": {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        if s.roles is None:
            op["security"] = []
            op["x-roles"] = "public"
        else:
            op["x-roles"] = sorted(r.value for r in s.roles)
            if s.method in {"POST", "PUT", "PATCH", "DELETE"} and s.csrf:
                op["description"] = "Cookie sessions must send the X-CSRF-Token header."
        if s.websocket:
            op["x-websocket"] = True
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)(?::[^}]*)?}", s.path)
        ]
        params.extend(query_parameters(s.query))
        if params:
            op["parameters"] = params
        if s.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": s.body}},
            }
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", s.path)
        paths.setdefault(path, {})[s.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "12345 政务服务便民热线 backend API",
            "version": version,
            "description": "Work orders (工单), calls, agents, recordings and transcripts.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "hotline_session"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }


def query_parameters(query: dict[str, Any] | None) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a route's ``query`` declaration: either a mapping of
    parameter name to schema, or one object schema (``properties`` / ``required``)."""
    if not query:
        return []
    if query.get("type") == "object" and isinstance(query.get("properties"), dict):
        required = set(query.get("required") or ())
        return [{"name": name, "in": "query", "required": name in required, "schema": sch}
                for name, sch in query["properties"].items()]
    return [{"name": name, "in": "query", "required": False, "schema": sch}
            for name, sch in query.items()]
