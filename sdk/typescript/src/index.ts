// The Spot Optimizer contracts, one namespace per proto package (names such as `Plan` exist in
// both optimizer and billing, so nothing is flattened). Services are the `*Service` descriptors:
// pass them to `createClient` from @connectrpc/connect with a transport of your choice.
export * as agent from "./gen/spot/agent/v1/agent_pb.js";
export * as auth from "./gen/spot/auth/v1/auth_pb.js";
export * as billing from "./gen/spot/billing/v1/billing_pb.js";
export * as cluster from "./gen/spot/cluster/v1/cluster_pb.js";
export * as common from "./gen/spot/common/v1/common_pb.js";
export * as optimizer from "./gen/spot/optimizer/v1/optimizer_pb.js";
export * as policy from "./gen/spot/policy/v1/policy_pb.js";
export * as risk from "./gen/spot/risk/v1/risk_pb.js";
