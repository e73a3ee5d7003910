"""Signing in: a login, an API key, and what a wrong credential looks like."""

from __future__ import annotations

import time

import grpc
import pytest
from conftest import Demo

from spot_sdk import Client, SpotError
from spot_sdk.v1 import auth, cluster

DEMO_CLUSTERS = {"checkout-web", "data-pipeline", "ml-platform"}


def cluster_names(client: Client) -> set[str]:
    return {
        c.name
        for c in client.paginate(
            client.clusters.ListClusters, cluster.ListClustersRequest(), lambda r: r.clusters
        )
    }


def test_login_and_list_the_clusters(spot: Client, demo: Demo) -> None:
    assert spot.user is not None and spot.user.email == demo.email
    assert cluster_names(spot) == DEMO_CLUSTERS
    me = spot.auth.Me(auth.MeRequest())
    assert me.user.role == auth.ROLE_OWNER


def test_a_wrong_password_is_unauthenticated(demo: Demo) -> None:
    with pytest.raises(SpotError) as refused:
        Client(demo.url, email=demo.email, password="Not-The-Password-1")
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.method == "/spot.auth.v1.AuthService/Login"


def test_an_api_key_works_within_its_role_until_revoked(spot: Client, demo: Demo) -> None:
    created = spot.api_keys.CreateApiKey(
        auth.CreateApiKeyRequest(name="python-sdk-viewer", role=auth.ROLE_VIEWER)
    )
    assert created.secret.startswith("spot_")

    with Client(demo.url, api_key=created.secret) as robot:
        assert cluster_names(robot) == DEMO_CLUSTERS
        with pytest.raises(SpotError) as refused:
            robot.api_keys.CreateApiKey(
                auth.CreateApiKeyRequest(name="escalate", role=auth.ROLE_OWNER)
            )
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED

        spot.api_keys.RevokeApiKey(auth.RevokeApiKeyRequest(api_key_id=created.api_key.id))
        # The revocation reaches every verifier over the bus, at once in one process.
        deadline = time.monotonic() + 10
        while True:
            try:
                robot.clusters.ListClusters(cluster.ListClustersRequest())
            except SpotError as error:
                assert error.code == grpc.StatusCode.UNAUTHENTICATED
                break
            assert time.monotonic() < deadline, "a revoked key still works after 10 s"
            time.sleep(0.2)
        # An API key has nothing to refresh with: the refusal is final at once.
        assert robot.credentials.refresh_attempts == 0


def test_one_credential_is_required() -> None:
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:9")
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:9", api_key="spot_x", token="y")
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:9", email="a@b.c")
