"""Python client of the Spot Optimizer gRPC API.

    from spot_sdk import Client, SpotError
    from spot_sdk.v1 import cluster

    with Client("http://127.0.0.1:8080", api_key="spot_...") as spot:
        request = cluster.ListClustersRequest()
        for c in spot.paginate(spot.clusters.ListClusters, request, lambda r: r.clusters):
            print(c.name)

The messages of each contract package are in `spot_sdk.v1` (`auth`, `cluster`, `optimizer`, ...);
the generated modules themselves under `spot_sdk.gen.spot.<package>.v1`.
"""

from spot_sdk._version import __version__
from spot_sdk.client import Client
from spot_sdk.credentials import Credentials
from spot_sdk.errors import FieldViolation, SpotError
from spot_sdk.paging import pages, paginate
from spot_sdk.streams import watch

__all__ = [
    "Client",
    "Credentials",
    "FieldViolation",
    "SpotError",
    "__version__",
    "pages",
    "paginate",
    "watch",
]
