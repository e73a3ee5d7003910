"""Lists the tenant's clusters with their nodes and the saving of each one's latest plan.

    SPOT_URL=http://127.0.0.1:8080 SPOT_API_KEY=spot_... python list_clusters.py
    SPOT_URL=... SPOT_EMAIL=demo@spot.local SPOT_PASSWORD=... python list_clusters.py
"""

from __future__ import annotations

import os
import sys

from spot_sdk import Client, SpotError
from spot_sdk.v1 import cluster, common, optimizer


def connect() -> Client:
    url = os.environ.get("SPOT_URL", "http://127.0.0.1:8080")
    if api_key := os.environ.get("SPOT_API_KEY"):
        return Client(url, api_key=api_key)
    return Client(url, email=os.environ["SPOT_EMAIL"], password=os.environ["SPOT_PASSWORD"])


def main() -> int:
    try:
        with connect() as spot:
            clusters = spot.paginate(
                spot.clusters.ListClusters, cluster.ListClustersRequest(), lambda r: r.clusters
            )
            for c in clusters:
                nodes = list(
                    spot.paginate(
                        spot.clusters.ListNodes,
                        cluster.ListNodesRequest(cluster_id=c.id),
                        lambda r: r.nodes,
                    )
                )
                on_spot = sum(n.capacity_type == common.CAPACITY_TYPE_SPOT for n in nodes)
                latest = spot.optimizer.ListPlans(
                    optimizer.ListPlansRequest(
                        cluster_id=c.id, page=common.PageRequest(page_size=1)
                    )
                ).plans
                saving = f"${latest[0].savings_usd_per_month:,.0f}/month" if latest else "no plan"
                print(
                    f"{c.name:<16} {c.region:<12} {len(nodes):>3} nodes "
                    f"({on_spot} spot)  latest plan: {saving}"
                )
    except SpotError as error:
        print(f"spot: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
