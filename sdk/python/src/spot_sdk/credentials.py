"""What the SDK signs its calls with, and how a session's access token is renewed.

An API key never expires and is sent as it is. A login's access token lives 15 minutes; its
refresh token is spent by each `Refresh`, which returns a new pair, and a refresh token used twice
signs out the whole login. So renewal is serialised: of several threads whose calls were refused
with the same stale token, one refreshes and the others retry with what it got.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import grpc

from spot_sdk.errors import SpotError
from spot_sdk.gen.spot.auth.v1 import auth_pb2, auth_pb2_grpc

# Refresh this long before the access token's stated expiry, so a call in flight never carries a
# token that lapses on the way (or on a server whose clock runs a little ahead).
EARLY_REFRESH = timedelta(seconds=30)


class Credentials:
    """The bearer credential of a client: an API key, or a login's access and refresh tokens."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        api_key: str | None = None,
        access_expires_at: datetime | None = None,
    ) -> None:
        if api_key and (access_token or refresh_token):
            raise ValueError("give an API key or tokens, not both")
        self._lock = threading.Lock()
        self._api_key = api_key
        self._access_token = access_token
        self._refresh_token = refresh_token
        self._expires_at = access_expires_at
        # How many refreshes were sent (for logs and tests).
        self.refresh_attempts = 0

    @classmethod
    def from_tokens(cls, tokens: auth_pb2.Tokens) -> Credentials:
        credentials = cls()
        credentials._store(tokens)
        return credentials

    @property
    def bearer(self) -> str | None:
        """What goes after `Bearer ` in the `authorization` header, if anything."""
        return self._api_key or self._access_token

    @property
    def refresh_token(self) -> str | None:
        return self._refresh_token

    @property
    def access_expires_at(self) -> datetime | None:
        return self._expires_at

    def can_refresh(self) -> bool:
        return self._refresh_token is not None and self._api_key is None

    def expiring(self, now: datetime | None = None) -> bool:
        """The access token is past (or near) the expiry the server stated when it issued it."""
        if self._expires_at is None or not self.can_refresh():
            return False
        now = now or datetime.now(timezone.utc)
        return now >= self._expires_at - EARLY_REFRESH

    def expire(self) -> None:
        """Treats the access token as expired, so the next call refreshes first."""
        with self._lock:
            self._expires_at = datetime.fromtimestamp(0, timezone.utc)

    def refresh(
        self, auth: auth_pb2_grpc.AuthServiceStub, stale: str | None, *, why: str = ""
    ) -> None:
        """Renews the tokens once, unless another thread already replaced `stale`.

        Raises SpotError (UNAUTHENTICATED) when there is nothing to refresh with or the server
        refuses the refresh token; `why` (the first refusal) is kept in its message.
        """
        with self._lock:
            if self.bearer != stale:
                return
            refresh_token = self._refresh_token
            if refresh_token is None or self._api_key is not None:
                raise SpotError(
                    grpc.StatusCode.UNAUTHENTICATED,
                    _explain(why, "the client has no refresh token; sign in again"),
                )
            self.refresh_attempts += 1
            try:
                response = auth.Refresh(
                    auth_pb2.RefreshRequest(refresh_token=refresh_token), timeout=30.0
                )
            except grpc.RpcError as error:
                refused = SpotError.from_rpc_error(error)
                raise SpotError(
                    refused.code,
                    _explain(why, f"refreshing the session failed: {refused.message}"),
                ) from None
            self._store(response.tokens)

    def _store(self, tokens: auth_pb2.Tokens) -> None:
        self._access_token = tokens.access_token
        self._refresh_token = tokens.refresh_token or None
        self._expires_at = (
            tokens.access_expires_at.ToDatetime(tzinfo=timezone.utc)
            if tokens.HasField("access_expires_at")
            else None
        )


def _explain(why: str, outcome: str) -> str:
    return f"{why} ({outcome})" if why else outcome
