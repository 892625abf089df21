"""The one error shape every response of the server has: ``{"error_code", "message"}``.

The codes are MLflow's (``mlflow.protos.databricks_pb2``) where MLflow has one for the status,
so MLflow clients read them the same way.
"""

from __future__ import annotations

import json

#: HTTP status -> error code.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    431: "REQUEST_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ServingError(Exception):
    """A request the server answers with ``status`` and one clear sentence."""

    def __init__(self, status: int, message: str, *, close: bool = False, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close  # drop the connection after answering (unread body, slow client)
        self.headers = dict(headers or {})

    @property
    def code(self) -> str:
        return CODES.get(self.status, "BAD_REQUEST" if self.status < 500 else "INTERNAL_ERROR")

    def body(self) -> bytes:
        return error_body(self.status, self.message)

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", b"application/json")]
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        if self.close:
            headers.append((b"connection", b"close"))
        return headers


def bad_request(message: str) -> ServingError:
    return ServingError(400, message)


def error_body(status: int, message: str) -> bytes:
    code = CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    return json.dumps({"error_code": code, "message": message}).encode()


async def send_error(send, error: ServingError) -> None:
    """Answer an ASGI request with ``error`` (for middleware, below the framework)."""
    body = error.body()
    headers = [*error.response_headers(), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
