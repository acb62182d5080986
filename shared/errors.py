"""Domain errors and their rendering as RFC 9457 ``application/problem+json``.

Services raise these; only this module turns them into HTTP. Each class carries its status and a
stable ``code`` so clients can branch on it; validation problems list the offending fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("chacra.errors")


class FieldError(BaseModel):
    """One offending input: where it is, which rule it broke, and why in words."""

    field: str = Field(description="Dotted path of the offending field, e.g. `geometry.coordinates`.")
    code: str = Field(description="Stable identifier of the rule that was broken.")
    detail: str


class RowError(BaseModel):
    """One bad row of an uploaded file."""

    line: int = Field(description="Line in the file; the header is line 1.")
    column: str | None
    code: str
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str | None = None
    errors: list[FieldError] | list[RowError] | None = Field(
        default=None, description="Offending fields of a request, or bad rows of an uploaded file."
    )


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.instance_code = code or self.code
        self.errors = list(errors) if errors else None
        self.extra = extra or {}
        self.headers = headers or {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.instance_code),
            "title": self.title,
            "status": self.status,
            "code": self.instance_code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = [e.model_dump() for e in self.errors]
        body.update(self.extra)
        return body


class BadRequest(DomainError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str = "A valid bearer token is required.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InsufficientQuantity(Conflict):
    code = "insufficient_quantity"
    title = "Not enough quantity left"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    title = "Invalid input"

    @classmethod
    def single(cls, field: str, code: str, detail: str) -> ValidationFailed:
        return cls(detail, code=code, errors=[FieldError(field=field, code=code, detail=detail)])


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "A service this request depends on is unavailable"


def problem_type(code: str) -> str:
    # Relative URI reference (RFC 9457 §3.1.1): stable, and resolvable against any deployment's origin.
    return f"/problems/{code}"


def problem_response(
    status: int, code: str, title: str, detail: str, *, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _loc_to_field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:] or parts
    return ".".join(parts)


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(
        exc.to_problem(instance=request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=exc.headers,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(field=_loc_to_field(e.get("loc", ())), code=str(e.get("type", "invalid")), detail=e["msg"])
        for e in exc.errors()
    ]
    fields = ", ".join(sorted({e.field for e in errors}))
    return problem_response(
        422,
        "validation_failed",
        "Invalid input",
        f"The request has invalid fields: {fields}.",
        instance=request.url.path,
        errors=[e.model_dump() for e in errors],
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request could not be handled."
    response = problem_response(
        exc.status_code, code, code.replace("_", " ").capitalize(), detail, instance=request.url.path
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(
        500,
        "internal_error",
        "Internal error",
        "The server failed to handle this request; nothing was saved. Retrying is safe.",
        instance=request.url.path,
    )


async def _database_busy_handler(request: Request, exc: Exception) -> JSONResponse:
    # SQLite's single writer past its busy timeout, a PostgreSQL deadlock or serialization failure, or
    # a database that does not answer: the transaction was rolled back and a retry can succeed.
    logger.warning("database busy or unavailable", extra={"path": request.url.path, "error": str(exc)})
    response = problem_response(
        503,
        "database_busy",
        "Database busy",
        "The database could not handle this request right now; nothing was saved. Retry shortly "
        "(with the same Idempotency-Key).",
        instance=request.url.path,
    )
    response.headers["Retry-After"] = "2"
    return response


async def _integrity_handler(request: Request, exc: Exception) -> JSONResponse:
    # A unique index that a concurrent request reached first: the rules were checked, then raced.
    logger.info("integrity conflict", extra={"path": request.url.path, "error": str(exc)})
    return problem_response(
        409,
        "conflict",
        "Conflict",
        "A concurrent change conflicts with this request; nothing was saved. Read the current state, retry.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(OperationalError, _database_busy_handler)
    app.add_exception_handler(IntegrityError, _integrity_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)


_STATUS_DESCRIPTIONS = {
    400: "Malformed request.",
    401: "Missing, expired or invalid bearer token.",
    403: "The caller's role may not do this.",
    404: "No such object, or not visible to the caller.",
    409: "Conflicts with the current state (duplicate, or an Idempotency-Key still in flight).",
    422: "Invalid input; `errors` lists each offending field and the rule it broke.",
    503: "A service this request depends on is unavailable; nothing was written.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the problem documents a route may answer."""
    return {
        status: {
            "description": _STATUS_DESCRIPTIONS.get(status, "Problem."),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the generated OpenAPI describe every error as a problem document.

    FastAPI documents its own 422 with `HTTPValidationError`; ours is a `Problem`, so rewrite it, and
    add 500 to every operation since any of them can fail unexpectedly.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in list(responses.items()):
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
                    response.setdefault("description", _STATUS_DESCRIPTIONS.get(int(status), "Problem."))
            responses.setdefault(
                "500",
                {
                    "description": "Unexpected failure; nothing was written.",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                },
            )
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema
