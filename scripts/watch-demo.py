#!/usr/bin/env python3
"""Watches a running `spot demo` through its public gRPC API, as a user watching the web app would,
and prints one JSON line: the longest time any pod waited for a node, the plans by kind and state,
consolidations applied at a loss, and, after the tenant's default policy is changed part-way, how
each cluster's compliance went.

    spot demo --listen 127.0.0.1:8080 --password Pw-123-abc &
    python3 scripts/watch-demo.py --target 127.0.0.1:8080 --password Pw-123-abc --minutes 15

Needs grpcio and grpcio-tools (`pip install grpcio grpcio-tools`); the client is generated from
proto/ into a temporary directory at start. The access token is refreshed by logging in again.
"""

import argparse
import importlib
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def generated_client():
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="spot-client-")
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto")]
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    code = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={out}",
                        f"--grpc_python_out={out}", *protos])
    if code != 0:
        sys.exit("watch-demo: generating the client from proto/ failed")
    sys.path.insert(0, out)
    return {name: importlib.import_module(f"spot.{name}.v1.{name}_pb2") for name in
            ("auth", "cluster", "optimizer", "policy")}, {
        name: importlib.import_module(f"spot.{name}.v1.{name}_pb2_grpc") for name in
        ("auth", "cluster", "optimizer", "policy")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="host:port of `spot demo`")
    parser.add_argument("--email", default="demo@spot.local")
    parser.add_argument("--password", required=True)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--policy-at-minute", type=float, default=5.0,
                        help="when to save the issue's policy: 70 %% spot, families c6g/m6g/r6g")
    parser.add_argument("--launch-seconds", type=float, default=10.0,
                        help="how long the simulated cloud takes to start a node")
    args = parser.parse_args()

    import grpc

    pb, rpc = generated_client()
    channel = grpc.insecure_channel(args.target)
    auth = rpc["auth"].AuthServiceStub(channel)
    clusters = rpc["cluster"].ClusterServiceStub(channel)
    optimizer = rpc["optimizer"].OptimizerServiceStub(channel)
    policies = rpc["policy"].PolicyServiceStub(channel)

    token = {"value": "", "at": 0.0}

    def metadata():
        if time.time() - token["at"] > 300:
            login = auth.Login(pb["auth"].LoginRequest(email=args.email, password=args.password))
            token["value"], token["at"] = login.tokens.access_token, time.time()
        return [("authorization", f"Bearer {token['value']}")]

    started = time.time()
    pending_since = {}
    longest = {"seconds": 0.0, "pod": ""}
    plans = {}
    compliance = {}
    policy_saved_at = None
    page = importlib.import_module("spot.common.v1.common_pb2").PageRequest(page_size=500)
    while time.time() - started < args.minutes * 60:
        now = time.time()
        minute = (now - started) / 60
        if policy_saved_at is None and minute >= args.policy_at_minute:
            current = policies.GetPolicy(pb["policy"].GetPolicyRequest(), metadata=metadata()).policy
            current.spot_percent = 70
            del current.allowed_families[:]
            current.allowed_families.extend(["c6g", "m6g", "r6g"])
            policies.UpdatePolicy(pb["policy"].UpdatePolicyRequest(policy=current), metadata=metadata())
            policy_saved_at = now
        listed = clusters.ListClusters(pb["cluster"].ListClustersRequest(), metadata=metadata())
        for cluster in listed.clusters:
            pods = clusters.ListPods(pb["cluster"].ListPodsRequest(cluster_id=cluster.id, page=page),
                                     metadata=metadata()).pods
            waiting = {f"{cluster.name}/{p.namespace}/{p.name}" for p in pods
                       if not p.node_name and p.owner_kind not in ("DaemonSet", "Node")}
            for pod in waiting:
                pending_since.setdefault(pod, now)
            for pod in list(pending_since):
                if pod.startswith(f"{cluster.name}/") and pod not in waiting:
                    waited = now - pending_since.pop(pod)
                    if waited > longest["seconds"]:
                        longest.update(seconds=round(waited, 1), pod=pod)
            for plan in optimizer.ListPlans(pb["optimizer"].ListPlansRequest(cluster_id=cluster.id, page=page),
                                            metadata=metadata()).plans:
                plans[plan.id] = {
                    "cluster": cluster.name,
                    "kind": pb["optimizer"].PlanKind.Name(plan.kind),
                    "state": pb["optimizer"].PlanState.Name(plan.state),
                    "steps": len(plan.steps),
                    "savings_usd_per_month": round(plan.savings_usd_per_month, 2),
                    "reason": plan.reason[:160],
                }
            if policy_saved_at is not None:
                status = optimizer.GetAutopilotStatus(
                    pb["optimizer"].GetAutopilotStatusRequest(cluster_id=cluster.id), metadata=metadata())
                seen = compliance.setdefault(cluster.name, {"out_of_policy_shown": False,
                                                            "breaches": [], "compliant_after_s": None})
                if not status.compliant:
                    seen["out_of_policy_shown"] = True
                    seen["breaches"] = sorted({b.detail[:120] for b in status.breaches} | set(seen["breaches"]))[:4]
                    seen["compliant_after_s"] = None
                elif seen["compliant_after_s"] is None:
                    seen["compliant_after_s"] = round(now - policy_saved_at, 1)
        time.sleep(5)
    for pod, since in pending_since.items():
        if time.time() - since > longest["seconds"]:
            longest.update(seconds=round(time.time() - since, 1), pod=f"{pod} (still waiting)")
    by_kind = {}
    for plan in plans.values():
        key = f"{plan['kind']}/{plan['state']}"
        by_kind[key] = by_kind.get(key, 0) + 1
    applied = ("PLAN_STATE_APPLYING", "PLAN_STATE_SUCCEEDED", "PLAN_STATE_FAILED")
    losing = [p for p in plans.values() if p["kind"] == "PLAN_KIND_CONSOLIDATION"
              and p["state"] in applied and p["steps"] and p["savings_usd_per_month"] < 0]
    print(json.dumps({
        "minutes": args.minutes,
        "longest_pending_s": longest["seconds"],
        "longest_pending_pod": longest["pod"],
        "pending_longer_than_a_launch": longest["seconds"] > args.launch_seconds + 10 + 5,
        "plans": by_kind,
        "negative_saving_consolidations_applied": losing,
        "policy_saved_at_minute": args.policy_at_minute,
        "compliance": compliance,
    }))


if __name__ == "__main__":
    main()
