"""A connection to the platform with one credential, and a typed stub for every public service.

The platform's one public port answers native gRPC (HTTP/2) beside grpc-web and the web app, so
the address is the same the browser uses: `http://127.0.0.1:8080` (plain) or `https://...` (TLS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

import grpc

from spot_sdk import paging, streams
from spot_sdk.credentials import Credentials
from spot_sdk.errors import SpotError
from spot_sdk.gen.spot.auth.v1 import auth_pb2, auth_pb2_grpc
from spot_sdk.gen.spot.billing.v1 import billing_pb2_grpc
from spot_sdk.gen.spot.cluster.v1 import cluster_pb2_grpc
from spot_sdk.gen.spot.optimizer.v1 import optimizer_pb2_grpc
from spot_sdk.gen.spot.policy.v1 import policy_pb2_grpc
from spot_sdk.gen.spot.risk.v1 import risk_pb2_grpc
from spot_sdk.interceptor import AuthInterceptor

Request = TypeVar("Request", bound=paging.PagedRequest)
Response = TypeVar("Response", bound=paging.PagedResponse)
Item = TypeVar("Item")
Message = TypeVar("Message")
StreamRequest = TypeVar("StreamRequest")

# A unary call that has not answered after this long fails with DEADLINE_EXCEEDED (streams have
# no default deadline). Pass `timeout=` to a call, or to Client, to change it.
DEFAULT_TIMEOUT_SECONDS = 30.0


class Client:
    """Connects to the platform at `url` with exactly one credential:

    - `api_key`: an automation key (`spot_...`, from ApiKeyService.CreateApiKey);
    - `email` and `password` (and `tenant_id` for an account in several tenants): logs in now;
    - `token`: an access token, with its `refresh_token` so the session can be renewed.

    A login's session is refreshed before its access token expires, and once more if a call is
    refused UNAUTHENTICATED; a refusal after that raises SpotError. Every error is a SpotError.
    Use it as a context manager, or call `close()`.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        refresh_token: str | None = None,
        api_key: str | None = None,
        email: str | None = None,
        password: str | None = None,
        tenant_id: str = "",
        root_certificates: bytes | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if sum(1 for given in (token, api_key, email) if given) != 1:
            raise ValueError("give exactly one of token, api_key or email (with password)")
        if email and not password:
            raise ValueError("email needs a password")
        password = password or ""
        if refresh_token and not token:
            raise ValueError("refresh_token goes with token")

        self._channel = _open_channel(url, root_certificates)
        # Public auth calls (login, refresh) go over the plain channel: they carry no credential.
        self._public_auth = auth_pb2_grpc.AuthServiceStub(self._channel)
        self.user: auth_pb2.User | None = None
        if email:
            try:
                login = self._public_auth.Login(
                    auth_pb2.LoginRequest(email=email, password=password, tenant_id=tenant_id),
                    timeout=timeout,
                )
            except grpc.RpcError as error:
                self._channel.close()
                raise SpotError.from_rpc_error(
                    error, method="/spot.auth.v1.AuthService/Login"
                ) from None
            self.credentials = Credentials.from_tokens(login.tokens)
            self.user = login.user
        else:
            self.credentials = Credentials(
                access_token=token, refresh_token=refresh_token, api_key=api_key
            )

        channel = grpc.intercept_channel(
            self._channel, AuthInterceptor(self.credentials, self._public_auth, timeout=timeout)
        )
        # spot.auth.v1
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)
        self.users = auth_pb2_grpc.UserServiceStub(channel)
        self.api_keys = auth_pb2_grpc.ApiKeyServiceStub(channel)
        self.audit = auth_pb2_grpc.AuditServiceStub(channel)
        self.notifications = auth_pb2_grpc.NotificationServiceStub(channel)
        self.admin = auth_pb2_grpc.AdminServiceStub(channel)
        # spot.cluster.v1
        self.clusters = cluster_pb2_grpc.ClusterServiceStub(channel)
        self.accounts = cluster_pb2_grpc.AccountServiceStub(channel)
        self.catalog = cluster_pb2_grpc.CatalogServiceStub(channel)
        self.node_classes = cluster_pb2_grpc.NodeClassServiceStub(channel)
        # spot.optimizer.v1
        self.optimizer = optimizer_pb2_grpc.OptimizerServiceStub(channel)
        self.dashboard = optimizer_pb2_grpc.DashboardServiceStub(channel)
        self.metering = optimizer_pb2_grpc.MeteringServiceStub(channel)
        # spot.policy.v1
        self.policies = policy_pb2_grpc.PolicyServiceStub(channel)
        self.node_templates = policy_pb2_grpc.NodeTemplateServiceStub(channel)
        self.hibernation = policy_pb2_grpc.HibernationServiceStub(channel)
        # spot.risk.v1
        self.risk = risk_pb2_grpc.RiskServiceStub(channel)
        self.experiments = risk_pb2_grpc.ExperimentServiceStub(channel)
        # spot.billing.v1
        self.billing = billing_pb2_grpc.BillingServiceStub(channel)
        self.billing_admin = billing_pb2_grpc.BillingAdminServiceStub(channel)

    def paginate(
        self,
        method: grpc.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        items: Callable[[Response], Iterable[Item]],
        *,
        page_size: int = 0,
    ) -> Iterator[Item]:
        """Every item of a List RPC across its pages: see `spot_sdk.paging.paginate`."""
        return paging.paginate(method, request, items, page_size=page_size)

    def watch(
        self,
        method: grpc.UnaryStreamMultiCallable[StreamRequest, Message],
        request: StreamRequest,
        *,
        until: Callable[[Message], bool] | None = None,
        timeout: float | None = None,
    ) -> Iterator[Message]:
        """The messages of a server stream: see `spot_sdk.streams.watch`."""
        return streams.watch(method, request, until=until, timeout=timeout)

    def logout(self) -> None:
        """Ends the login's session on the server (its access and refresh tokens)."""
        refresh_token = self.credentials.refresh_token
        if refresh_token:
            self.auth.Logout(auth_pb2.LogoutRequest(refresh_token=refresh_token))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _open_channel(url: str, root_certificates: bytes | None) -> grpc.Channel:
    """`http://host:port` or a bare `host:port`: plain HTTP/2; `https://host[:port]`: TLS."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a platform address: {url!r} (expected http(s)://host:port)")
    if parts.path not in ("", "/"):
        raise ValueError(f"the platform's address has no path: {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = f"{host}:{port}"
    if parts.scheme == "https":
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates))
    return grpc.insecure_channel(target)
