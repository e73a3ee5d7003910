"""Consumes a server stream (WatchPlan, WatchCluster, WatchActions, WatchRiskFlags).

The platform ends an open stream with UNAUTHENTICATED when the access token it was opened with
expires (15 minutes) and expects the client to open it again with a fresh one. `watch` does that
(the next open refreshes the session first), stops when `until` says so, and always cancels the
stream it leaves, so a `break` in the caller's loop does not leave it open on the server (which
counts a tenant's open streams).

A stream opened again starts from what the server sends at open: WatchPlan sends the plan's
current state first, so nothing is lost; WatchCluster and WatchActions send only what happens
next, so their events during the reconnect (a fraction of a second) are not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from spot_sdk.errors import SpotError

Request = TypeVar("Request")
Message = TypeVar("Message")

def watch(
    method: grpc.UnaryStreamMultiCallable[Request, Message],
    request: Request,
    *,
    until: Callable[[Message], bool] | None = None,
    timeout: float | None = None,
) -> Iterator[Message]:
    """Yields the stream's messages until the server ends it, `until(message)` is true (that
    message is yielded, then the stream is cancelled), or `timeout` seconds pass
    (DEADLINE_EXCEEDED).

    A stream of a Client signed in with a login (not an API key) that ends because its access
    token expired is opened again after a refresh. Errors are SpotError.
    """
    while True:
        call: Any = method(request, timeout=timeout)
        received = False
        try:
            for message in call:
                received = True
                yield message
                if until is not None and until(message):
                    return
            return
        except SpotError as error:
            # Refused before its first message, the stream was already retried once after a
            # refresh (the interceptor): that refusal is final.
            renew = getattr(call, "renew_credentials", None)
            if not (received and error.code == grpc.StatusCode.UNAUTHENTICATED and renew):
                raise
            if not renew(error.message):
                raise
        finally:
            call.cancel()
