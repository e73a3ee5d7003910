"""Consuming a server stream (WatchPlan)."""

from __future__ import annotations

import time

import grpc
import pytest
from conftest import Demo, expired_copy

from spot_sdk import Client, SpotError
from spot_sdk.v1 import cluster, optimizer


def a_fresh_plan(spot: Client) -> optimizer.Plan:
    first = spot.clusters.ListClusters(cluster.ListClustersRequest()).clusters[0]
    return spot.optimizer.Recommend(optimizer.RecommendRequest(cluster_id=first.id)).plan


def test_watch_yields_the_plan_and_stops_when_told(spot: Client) -> None:
    plan = a_fresh_plan(spot)
    seen = list(
        spot.watch(
            spot.optimizer.WatchPlan,
            optimizer.WatchPlanRequest(plan_id=plan.id),
            until=lambda update: update.plan.id == plan.id,
            timeout=20,
        )
    )
    assert [update.plan.id for update in seen] == [plan.id]
    assert seen[0].plan.state != optimizer.PLAN_STATE_UNSPECIFIED


def test_watch_follows_a_live_cluster(spot: Client) -> None:
    # The demo's clusters start on on-demand nodes and the autopilot moves them to spot at once,
    # while the simulated cloud interrupts spot nodes: events keep coming.
    largest = max(
        spot.paginate(
            spot.clusters.ListClusters, cluster.ListClustersRequest(), lambda r: r.clusters
        ),
        key=lambda c: len(spot.clusters.ListNodes(cluster.ListNodesRequest(cluster_id=c.id)).nodes),
    )
    events = [
        update.event
        for update in spot.watch(
            spot.clusters.WatchCluster,
            cluster.WatchClusterRequest(cluster_id=largest.id),
            until=lambda update: True,
            timeout=60,
        )
    ]
    assert len(events) == 1
    assert events[0].cluster_id == largest.id
    assert events[0].kind and events[0].message


def test_a_quiet_stream_ends_with_its_deadline(spot: Client) -> None:
    plan = a_fresh_plan(spot)
    updates = spot.watch(
        spot.optimizer.WatchPlan, optimizer.WatchPlanRequest(plan_id=plan.id), timeout=1.5
    )
    started = time.monotonic()
    assert next(updates).plan.id == plan.id
    with pytest.raises(SpotError) as ended:
        for _ in updates:
            pass
    assert ended.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 10


def test_a_stream_refused_at_open_is_opened_again_after_a_refresh(demo: Demo) -> None:
    with demo.login() as login:
        plan = a_fresh_plan(login)
        access, refresh = login.credentials.bearer, login.credentials.refresh_token
    assert access and refresh
    with Client(demo.url, token=expired_copy(access), refresh_token=refresh) as client:
        updates = client.watch(
            client.optimizer.WatchPlan, optimizer.WatchPlanRequest(plan_id=plan.id), timeout=20
        )
        first = next(updates)
        assert first.plan.id == plan.id
        assert client.credentials.refresh_attempts == 1


def test_watching_an_unknown_plan_is_not_found(spot: Client) -> None:
    with pytest.raises(SpotError) as refused:
        next(iter(spot.watch(spot.optimizer.WatchPlan, optimizer.WatchPlanRequest(plan_id="nope"))))
    assert refused.value.code == grpc.StatusCode.NOT_FOUND


def test_a_stream_ended_by_a_sign_out_is_refreshed_once_then_a_clear_error(demo: Demo) -> None:
    # An open stream ends UNAUTHENTICATED when its credential is revoked or expires; watch then
    # renews the session once to open it again, and a signed-out session cannot be renewed.
    with demo.login() as client:
        clusters = client.clusters.ListClusters(cluster.ListClustersRequest()).clusters
        updates = client.watch(
            client.clusters.WatchCluster,
            cluster.WatchClusterRequest(cluster_id=clusters[0].id),
            timeout=60,
        )
        assert next(updates).event.cluster_id == clusters[0].id
        client.logout()
        with pytest.raises(SpotError) as ended:
            for _ in updates:
                pass
    assert ended.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert ended.value.method == "/spot.cluster.v1.ClusterService/WatchCluster"
    assert "refreshing the session failed" in ended.value.message
    assert client.credentials.refresh_attempts == 1
