"""An expired session: renewed once, then a clear error (issue #20's bad-input rule)."""

from __future__ import annotations

import threading

import grpc
import pytest
from conftest import Demo, expired_copy

from spot_sdk import Client, SpotError
from spot_sdk.v1 import auth, cluster


def list_clusters(client: Client) -> int:
    return len(client.clusters.ListClusters(cluster.ListClustersRequest()).clusters)


def test_a_token_past_its_stated_expiry_is_refreshed_before_the_call(spot: Client) -> None:
    before = spot.credentials.bearer
    spot.credentials.expire()
    assert list_clusters(spot) == 3
    assert spot.credentials.refresh_attempts == 1
    assert spot.credentials.bearer != before


def test_a_refused_token_is_refreshed_once_and_the_call_retried(demo: Demo) -> None:
    with demo.login() as login:
        access, refresh = login.credentials.bearer, login.credentials.refresh_token
    assert access and refresh
    with Client(demo.url, token=expired_copy(access), refresh_token=refresh) as client:
        assert list_clusters(client) == 3
        assert client.credentials.refresh_attempts == 1
        # Each refused call gets its one refresh.
        client.credentials._access_token = expired_copy(client.credentials.bearer or "")
        me = client.auth.Me(auth.MeRequest())
        assert me.user.email == demo.email
        assert client.credentials.refresh_attempts == 2


def test_an_ended_session_gives_a_clear_error_after_one_refresh(demo: Demo) -> None:
    with demo.login() as client:
        client.logout()
        with pytest.raises(SpotError) as refused:
            list_clusters(client)
        error = refused.value
        assert error.code == grpc.StatusCode.UNAUTHENTICATED
        assert error.method == "/spot.cluster.v1.ClusterService/ListClusters"
        # Both refusals are in the message: the access token's, then the refresh token's.
        assert "refreshing the session failed" in error.message
        assert "sign in again" in error.message
        assert client.credentials.refresh_attempts == 1


def test_an_expired_token_without_a_refresh_token_fails_at_once(demo: Demo) -> None:
    with demo.login() as login:
        access = login.credentials.bearer or ""
    with Client(demo.url, token=expired_copy(access)) as client:
        with pytest.raises(SpotError) as refused:
            list_clusters(client)
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    # The server's reason, as it gave it: nothing was tried in between.
    assert refused.value.message.startswith("access token")
    assert client.credentials.refresh_attempts == 0


def test_concurrent_calls_with_an_expired_token_refresh_once(spot: Client) -> None:
    # Refresh tokens rotate and one used twice signs the whole login out: calls that find the
    # token expired together must share one refresh.
    spot.credentials.expire()
    results: list[int] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(list_clusters(spot))
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [3] * 8
    assert spot.credentials.refresh_attempts == 1
