"""Consuming a server stream (WatchPlan)."""

from __future__ import annotations

import time

import grpc
import pytest
from conftest import Demo, expired_copy

from spot_sdk import Client, SpotError
from spot_sdk.v1 import agent, cluster, optimizer

FINISHED = (
    cluster.ACTION_STATUS_SUCCEEDED,
    cluster.ACTION_STATUS_FAILED,
    cluster.ACTION_STATUS_REFUSED,
    cluster.ACTION_STATUS_TIMED_OUT,
)


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


def test_a_stream_follows_an_action_to_its_result(spot: Client) -> None:
    largest = max(
        spot.paginate(
            spot.clusters.ListClusters, cluster.ListClustersRequest(), lambda r: r.clusters
        ),
        key=lambda c: len(spot.clusters.ListNodes(cluster.ListNodesRequest(cluster_id=c.id)).nodes),
    )
    nodes = spot.clusters.ListNodes(cluster.ListNodesRequest(cluster_id=largest.id)).nodes
    node = next(n for n in nodes if n.ready and not n.cordoned)
    # The stub's own stream: its headers mean the server has subscribed, so nothing submitted
    # from here on can be missed.
    stream = spot.clusters.WatchActions(
        cluster.WatchActionsRequest(cluster_id=largest.id), timeout=60
    )
    try:
        stream.initial_metadata()
        submitted = spot.clusters.SubmitAction(
            cluster.SubmitActionRequest(
                cluster_id=largest.id,
                kind=agent.ACTION_KIND_LABEL,
                node_name=node.name,
                labels={"spot-optimizer.io/python-sdk-test": "yes"},
            )
        ).action
        statuses = []
        for update in stream:
            if update.action.action.id == submitted.action.id:
                statuses.append(update.action.status)
                if update.action.status in FINISHED:
                    break
    finally:
        stream.cancel()
    # The node may have been drained away by the demo's autopilot meanwhile: then it failed.
    assert statuses[-1] in (cluster.ACTION_STATUS_SUCCEEDED, cluster.ACTION_STATUS_FAILED)


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
        plan = a_fresh_plan(client)
        updates = client.watch(
            client.optimizer.WatchPlan, optimizer.WatchPlanRequest(plan_id=plan.id), timeout=30
        )
        assert next(updates).plan.id == plan.id
        client.logout()
        with pytest.raises(SpotError) as ended:
            for _ in updates:
                pass
    assert ended.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert ended.value.method == "/spot.optimizer.v1.OptimizerService/WatchPlan"
    assert "refreshing the session failed" in ended.value.message
    assert client.credentials.refresh_attempts == 1
