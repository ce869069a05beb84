"""OpenAI-style error objects: ``{"error": {"message", "type", "param", "code"}}``.

Every error the server answers, a user's or its own, has this shape and a
one-line message, so any OpenAI client shows it as it shows OpenAI's own.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class APIError(Exception):
    """An error answered to the client with ``status`` and an error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = " ".join(message.split())
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def from_validation(exc: ValidationError) -> APIError:
    """A 400 listing pydantic's errors on one line (one per field); ``param``: the first field.

    A union's branch names (``str``, ``list[TextPart]``) are left out of locations:
    the client named the field, not the branch."""
    seen: dict[str, str] = {}
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if not _is_branch(p))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        seen.setdefault(where, f"{where}: {msg}" if where else msg)
    params = [where for where in seen if where]
    return bad_request("; ".join(seen.values()), param=params[0] if params else None)


def _is_branch(part: object) -> bool:
    return isinstance(part, str) and (part in _SCALARS or "[" in part)


_SCALARS = {"str", "int", "float", "bool", "none", "list", "dict"}
