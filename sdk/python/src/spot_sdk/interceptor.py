"""Signs every call, renews an expired session once, and turns gRPC errors into SpotError.

Every call gets `authorization: Bearer <access token or API key>` and an `x-request-id` (the id the
platform's logs and audit records carry, and SpotError reports). A call refused UNAUTHENTICATED
with a login's access token is retried once after a refresh; a second refusal, or a refresh the
server refuses, is a SpotError that says both. A stream is retried only when it was refused before
its first message: after that, re-opening is the caller's choice (see `spot_sdk.streams.watch`).

Only blocking calls (`stub.Method(request)`) are supported: `.future()` works but waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grpc

from spot_sdk.credentials import Credentials
from spot_sdk.errors import SpotError
from spot_sdk.gen.spot.auth.v1 import auth_pb2_grpc

Metadata = tuple[tuple[str, str | bytes], ...]


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Metadata | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _Prepared(NamedTuple):
    details: grpc.ClientCallDetails
    bearer: str | None
    # The caller set its own `authorization`: the SDK neither replaces nor refreshes it.
    own_credentials: bool


class AuthInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(
        self,
        credentials: Credentials,
        auth: auth_pb2_grpc.AuthServiceStub,
        *,
        timeout: float | None,
    ) -> None:
        self._credentials = credentials
        # Over the plain channel: a refresh must not go through this interceptor again.
        self._auth = auth
        self._timeout = timeout

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        request_id, method = _request_id(client_call_details), _method(client_call_details)
        prepared = self._prepare(client_call_details, request_id, timeout=self._timeout)
        outcome = continuation(prepared.details, request)
        error = outcome.exception()
        if error is not None and self._should_refresh(error, prepared):
            self._refresh(prepared.bearer, _details(error), method, request_id)
            prepared = self._prepare(client_call_details, request_id, timeout=self._timeout)
            outcome = continuation(prepared.details, request)
            error = outcome.exception()
        if error is None:
            return outcome
        if isinstance(error, grpc.RpcError):
            raise SpotError.from_rpc_error(error, method=method, request_id=request_id) from None
        raise error

    def intercept_unary_stream(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        request_id = _request_id(client_call_details)

        def open_stream() -> tuple[Any, _Prepared]:
            prepared = self._prepare(client_call_details, request_id, timeout=None)
            return continuation(prepared.details, request), prepared

        return _RefreshingStream(self, open_stream, _method(client_call_details), request_id)

    # Client streams (the agent's session) are signed, never replayed: their requests are spent.
    def intercept_stream_unary(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: Any,
        request_iterator: Any,
    ) -> Any:
        request_id = _request_id(client_call_details)
        prepared = self._prepare(client_call_details, request_id, timeout=None)
        return continuation(prepared.details, request_iterator)

    def intercept_stream_stream(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: Any,
        request_iterator: Any,
    ) -> Any:
        request_id = _request_id(client_call_details)
        prepared = self._prepare(client_call_details, request_id, timeout=None)
        return continuation(prepared.details, request_iterator)

    def _refresh(self, stale: str | None, why: str, method: str, request_id: str) -> None:
        """Renews the session, or raises a SpotError that names the caller's call (not Refresh)."""
        try:
            self._credentials.refresh(self._auth, stale, why=why)
        except SpotError as refused:
            raise SpotError(
                refused.code, refused.message, method=method, request_id=request_id
            ) from None

    def _prepare(
        self, details: grpc.ClientCallDetails, request_id: str, *, timeout: float | None
    ) -> _Prepared:
        metadata = [
            (key, value) for key, value in (details.metadata or ()) if key != "x-request-id"
        ]
        own = any(key == "authorization" for key, _ in metadata)
        bearer = None
        if not own:
            if self._credentials.expiring():
                self._refresh(
                    self._credentials.bearer,
                    "the access token expired",
                    _method(details),
                    request_id,
                )
            bearer = self._credentials.bearer
            if bearer:
                metadata.append(("authorization", f"Bearer {bearer}"))
        metadata.append(("x-request-id", request_id))
        prepared = _CallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else timeout,
            metadata=tuple(metadata),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
            compression=getattr(details, "compression", None),
        )
        return _Prepared(_as_details(prepared), bearer, own)

    def _should_refresh(self, error: BaseException, prepared: _Prepared) -> bool:
        return (
            isinstance(error, grpc.Call)
            and error.code() == grpc.StatusCode.UNAUTHENTICATED
            and not prepared.own_credentials
            and self._credentials.can_refresh()
        )


class _RefreshingStream:
    """A server stream that is opened again once, after a refresh, if refused before any message.

    It stands in for the grpc.Call iterator the stub would return: iterate it, or cancel it.
    """

    def __init__(
        self,
        interceptor: AuthInterceptor,
        open_stream: Callable[[], tuple[Any, _Prepared]],
        method: str,
        request_id: str,
    ) -> None:
        self._interceptor = interceptor
        self._open = open_stream
        self._method = method
        self._request_id = request_id
        self._call, self._prepared = open_stream()
        self._received = False
        self._retried = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                message = next(self._call)
            except grpc.RpcError as error:
                if (
                    not self._received
                    and not self._retried
                    and self._interceptor._should_refresh(error, self._prepared)
                ):
                    self._retried = True
                    self._interceptor._refresh(
                        self._prepared.bearer, _details(error), self._method, self._request_id
                    )
                    self._call, self._prepared = self._open()
                    continue
                raise SpotError.from_rpc_error(
                    error, method=self._method, request_id=self._request_id
                ) from None
            self._received = True
            return message

    def renew_credentials(self, why: str) -> bool:
        """Refreshes the session this stream was opened with, when it can (`spot_sdk.watch`
        calls it when an open stream ends because its access token expired)."""
        interceptor = self._interceptor
        if self._prepared.own_credentials or not interceptor._credentials.can_refresh():
            return False
        interceptor._refresh(self._prepared.bearer, why, self._method, self._request_id)
        return True

    # The grpc.Call surface, delegated to the stream open now.
    def cancel(self) -> bool:
        return bool(self._call.cancel())

    def is_active(self) -> bool:
        return bool(self._call.is_active())

    def time_remaining(self) -> float | None:
        remaining: float | None = self._call.time_remaining()
        return remaining

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return bool(self._call.add_callback(callback))

    def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = self._call.code()
        return code

    def details(self) -> str:
        return str(self._call.details())

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._call.trailing_metadata()


def _as_details(details: _CallDetails) -> grpc.ClientCallDetails:
    # grpc reads the attributes only; a NamedTuple with them is what its own examples pass.
    result: grpc.ClientCallDetails = details  # type: ignore[assignment]
    return result


def _request_id(details: grpc.ClientCallDetails) -> str:
    for key, value in details.metadata or ():
        if key == "x-request-id":
            return value if isinstance(value, str) else value.decode()
    return uuid.uuid4().hex


def _method(details: grpc.ClientCallDetails) -> str:
    method: str | bytes = details.method
    return method if isinstance(method, str) else method.decode()


def _details(error: BaseException) -> str:
    return (error.details() or "") if isinstance(error, grpc.Call) else str(error)
