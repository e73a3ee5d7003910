"""Readable errors: the status, the server's words, and the field to fix."""

from __future__ import annotations

import grpc
import pytest

from spot_sdk import Client, FieldViolation, SpotError
from spot_sdk.errors import parse_violations
from spot_sdk.v1 import auth, cluster


def test_a_bad_input_names_its_field(spot: Client) -> None:
    with pytest.raises(SpotError) as refused:
        # Neither a cluster (agent key), a role (automation key) nor a scope.
        spot.api_keys.CreateApiKey(auth.CreateApiKeyRequest(name="neither"))
    error = refused.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "cluster_id"
    assert error.method == "/spot.auth.v1.ApiKeyService/CreateApiKey"
    assert len(error.request_id) == 32
    assert str(error).startswith(
        "INVALID_ARGUMENT (/spot.auth.v1.ApiKeyService/CreateApiKey): invalid `cluster_id`: "
    )


def test_two_fields_refused_together_are_both_named(spot: Client) -> None:
    with pytest.raises(SpotError) as refused:
        spot.catalog.ListInstanceTypes(cluster.ListInstanceTypesRequest(min_cpu_millis=-1))
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in refused.value.violations] == ["min_cpu_millis", "min_memory_mib"]


def test_an_unreachable_server_is_unavailable() -> None:
    with Client("http://127.0.0.1:9", api_key="spot_unused", timeout=5) as client:
        with pytest.raises(SpotError) as failed:
            client.clusters.ListClusters(cluster.ListClustersRequest())
    assert failed.value.code == grpc.StatusCode.UNAVAILABLE
    assert failed.value.message


def test_violations_are_read_from_the_message() -> None:
    message = (
        "invalid `policy.spot_percent`: must be at most 100; "
        "invalid `policy.families[2]`: `zz` is not an instance family"
    )
    assert parse_violations(message) == [
        FieldViolation("policy.spot_percent", "must be at most 100"),
        FieldViolation("policy.families[2]", "`zz` is not an instance family"),
    ]
    assert parse_violations("cluster not found") == []
    not_a_field = SpotError(grpc.StatusCode.NOT_FOUND, "invalid `x`: y")
    assert not_a_field.field is None


@pytest.mark.parametrize("url", ["ftp://host:1", "http://", "http://host:1/api"])
def test_an_address_that_is_not_the_platform_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Client(url, api_key="spot_unused")
