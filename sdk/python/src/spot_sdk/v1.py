"""The messages and enums of every public contract package, one module each (names such as `Plan`
exist in both optimizer and billing, so nothing is flattened): `cluster.ListClustersRequest`,
`auth.Role.ROLE_ADMIN`, ... The bus messages (spot.events) are internal and not generated."""

from spot_sdk.gen.spot.agent.v1 import agent_pb2 as agent
from spot_sdk.gen.spot.auth.v1 import auth_pb2 as auth
from spot_sdk.gen.spot.billing.v1 import billing_pb2 as billing
from spot_sdk.gen.spot.cluster.v1 import cluster_pb2 as cluster
from spot_sdk.gen.spot.common.v1 import common_pb2 as common
from spot_sdk.gen.spot.optimizer.v1 import optimizer_pb2 as optimizer
from spot_sdk.gen.spot.policy.v1 import policy_pb2 as policy
from spot_sdk.gen.spot.risk.v1 import risk_pb2 as risk

__all__ = ["agent", "auth", "billing", "cluster", "common", "optimizer", "policy", "risk"]
