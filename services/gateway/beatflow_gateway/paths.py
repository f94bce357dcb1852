"""Path parameter convertors for ids, registered with Starlette before any route is declared.

With `{repo_id:uuid_id}` a path whose id has the wrong shape matches no route: 404, or 405
where another route owns that path (`/api/repositories/create` is not a repository id),
instead of reaching a handler meant for something else. Values stay strings.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from beatflow_platform import naming


def _shaped_string(pattern: str) -> Convertor[str]:
    """A convertor matching `pattern` (Starlette reads `regex` from the class)."""

    class ShapedString(Convertor[str]):
        regex = pattern.removeprefix("^").removesuffix("$")

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    return ShapedString()


def register_id_convertors() -> None:
    """`uuid_id`, `sha256` and `username`; registering again replaces them with equal ones."""
    register_url_convertor("uuid_id", _shaped_string(naming.UUID))
    register_url_convertor("sha256", _shaped_string(naming.SHA256))
    register_url_convertor("username", _shaped_string(naming.USERNAME))
