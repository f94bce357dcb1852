"""google.api.http path templates (`/api/repos/{repo_id}/branches/{name=**}:verb`) as Starlette paths.

A variable binds one segment (`{field}`, `{field=*}`) or the rest of the path (`{field=**}`); its
field may be nested (`{render.commit_id}`). Starlette names path parameters by identifiers, so
each variable gets one (`p0`, `p1`, ...) and the template keeps which field path it fills. A
one-segment variable may take a Starlette convertor (`uuid_id`, see paths.py), so that a value of
the wrong shape matches no route and `/api/repositories/create` is never a repository id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class PathTemplate:
    template: str
    # The Starlette path, e.g. "/api/repos/{p0}/branches/{p1:path}".
    route_path: str
    # The OpenAPI path, e.g. "/api/repos/{repo_id}/branches/{name}".
    openapi_path: str
    # Starlette parameter name -> the request field path it fills ("render.commit_id").
    fields: dict[str, str]

    @property
    def bound_fields(self) -> set[str]:
        return set(self.fields.values())


def parse(template: str, convertor: Callable[[str], str | None] = lambda field: None) -> PathTemplate:
    """The template as a route; only the segment patterns `*` and `**` are supported (what our rules use).
    `convertor(field path)` names the convertor of a one-segment variable, or None."""
    route_parts, openapi_parts, fields = [], [], {}
    position = 0
    for match in _VARIABLE.finditer(template):
        literal = template[position : match.start()]
        route_parts.append(literal)
        openapi_parts.append(literal)
        field, pattern = match[1], match[2] or "*"
        if pattern not in ("*", "**"):
            raise ValueError(f"unsupported path pattern {pattern!r} in {template!r}")
        name = f"p{len(fields)}"
        fields[name] = field
        kind = "path" if pattern == "**" else convertor(field)
        route_parts.append(f"{{{name}:{kind}}}" if kind else f"{{{name}}}")
        openapi_parts.append(f"{{{field}}}")
        position = match.end()
    route_parts.append(template[position:])
    openapi_parts.append(template[position:])
    return PathTemplate(template, "".join(route_parts), "".join(openapi_parts), fields)
