"""The one exception the SDK raises for a refused or failed call.

A gRPC error is a status code and a message. The platform words an invalid field as
"invalid `<field>`: <reason>" (several joined by "; ", as a policy's violations are) and sends no
structured details, so the field a caller must fix is read out of the message here rather than by
a regular expression in every script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import grpc

# "invalid `policy.spot_percent`: ..." and, for two fields refused together,
# "invalid `min_cpu_millis`/`min_memory_mib`: ...".
_FIELD = re.compile(r"invalid (`[^`]+`(?:/`[^`]+`)*): ")


@dataclass(frozen=True)
class FieldViolation:
    """One field the server refused, and why."""

    field: str
    reason: str


class SpotError(Exception):
    """A call the platform refused, or that never reached it.

    ``code`` is the gRPC status (``grpc.StatusCode.INVALID_ARGUMENT``, ...), ``message`` the
    server's words, ``field`` the first field an INVALID_ARGUMENT names (``None`` otherwise) and
    ``violations`` every one. ``method`` is the full RPC name and ``request_id`` the
    ``x-request-id`` the SDK sent, which the platform's logs and audit trail carry.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        method: str = "",
        request_id: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.method = method
        self.request_id = request_id
        self.violations = (
            parse_violations(message) if code == grpc.StatusCode.INVALID_ARGUMENT else []
        )
        self.field = self.violations[0].field if self.violations else None
        super().__init__(str(self))

    @property
    def code_name(self) -> str:
        """The status as the protos' comments name it: ``INVALID_ARGUMENT``, ``NOT_FOUND``, ..."""
        return str(self.code.name)

    def __str__(self) -> str:
        where = f" ({self.method})" if self.method else ""
        return f"{self.code_name}{where}: {self.message}"

    def __repr__(self) -> str:
        return f"SpotError(code={self.code_name}, message={self.message!r}, field={self.field!r})"

    @classmethod
    def from_rpc_error(
        cls, error: grpc.RpcError, *, method: str = "", request_id: str = ""
    ) -> SpotError:
        # Every error the grpc package raises from a call is also a grpc.Call.
        if isinstance(error, grpc.Call):
            code = error.code()
            message = error.details() or ""
        else:
            code, message = grpc.StatusCode.UNKNOWN, str(error)
        if code == grpc.StatusCode.UNAVAILABLE and not message:
            message = "the server is not reachable"
        return cls(code, message, method=method, request_id=request_id)


def parse_violations(message: str) -> list[FieldViolation]:
    """The fields an INVALID_ARGUMENT message names, in order, each with its reason."""
    matches = list(_FIELD.finditer(message))
    violations = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(message)
        reason = message[match.end() : end].rstrip().removesuffix(";").rstrip()
        for field in match.group(1).split("/"):
            violations.append(FieldViolation(field=field.strip("`"), reason=reason))
    return violations
