"""Walking a List RPC's pages."""

from __future__ import annotations

from spot_sdk import Client, pages
from spot_sdk.v1 import cluster, common


def test_paginate_walks_every_page_once(spot: Client) -> None:
    # The catalog holds every EC2 type: many pages of 100.
    request = cluster.ListInstanceTypesRequest(region="us-east-1")
    names = [
        t.name
        for t in spot.paginate(
            spot.catalog.ListInstanceTypes, request, lambda r: r.instance_types, page_size=100
        )
    ]
    assert len(names) > 300
    assert len(set(names)) == len(names), "an instance type came twice"
    # The same set as the server's largest pages give.
    in_big_pages = [
        t.name
        for t in spot.paginate(
            spot.catalog.ListInstanceTypes, request, lambda r: r.instance_types, page_size=500
        )
    ]
    assert sorted(in_big_pages) == sorted(names)
    # The caller's request is left as it was.
    assert request.page == common.PageRequest()


def test_pages_yields_each_response_and_stops_at_the_last(spot: Client) -> None:
    request = cluster.ListInstanceTypesRequest(
        region="us-east-1", page=common.PageRequest(page_size=200)
    )
    responses = list(pages(spot.catalog.ListInstanceTypes, request))
    assert len(responses) > 1
    assert all(len(r.instance_types) == 200 for r in responses[:-1])
    assert all(r.page.next_page_token for r in responses[:-1])
    assert responses[-1].page.next_page_token == ""


def test_paging_is_lazy(spot: Client) -> None:
    clusters = spot.paginate(
        spot.clusters.ListClusters,
        cluster.ListClustersRequest(),
        lambda r: r.clusters,
        page_size=1,
    )
    first = next(clusters)
    assert first.name
    assert len([first, *clusters]) == 3
