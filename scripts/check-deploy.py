#!/usr/bin/env python3
"""The deployment files, checked offline as a cluster would take them.

Both Helm charts are linted and rendered with Helm's own engine (helm-python-sdk bundles it; no
helm binary, no cluster) with every values file in their ci/ folder (the chart-testing
convention). Every rendered object is validated against the Kubernetes 1.31 schemas in strict
mode (kubernetes-validate), so a misspelt or misplaced field fails here rather than at
`helm install`; ServiceMonitor, a CRD without a built-in schema, is checked by hand. The objects
must also refer to each other correctly (selectors, backends, scale targets), every `SPOT_*`
variable must be a setting the binary knows (docker-compose.yml too), and a few behaviours an
operator relies on are asserted. Run by `make check-deploy` through scripts/check-deploy.sh.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import helm_python
import kubernetes_validate
import yaml
from helm_python import _native

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = "1.31.0"
NAMESPACE = "spot-system"
PROMETHEUS_OPERATOR = ["monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"]

# Each chart, its release name, and the clusters it is rendered for: a plain one, and for the
# platform also one where the Prometheus operator's API exists (the ServiceMonitor appears).
CHARTS = {
    "spot-optimizer": ("spot-optimizer", {"": [], "with the Prometheus operator": PROMETHEUS_OPERATOR}),
    "spot-agent": ("spot-agent", {"": []}),
}
SETTINGS_OF = {"spot-optimizer": "platform", "spot-agent": "agent"}


class Failure(Exception):
    pass


def platform_settings() -> set[str]:
    """The `SPOT_*` names `spot` accepts, read from shared/config (its loader refuses any other):
    the settings table, `SPOT_<SERVICE>_URL` per service and `SPOT_LIMIT_<NAME>`."""
    config = ROOT / "shared/config/src"
    table = re.search(r"const ENV_SETTINGS: &\[&str\] = &\[(.*?)\];", (config / "layers.rs").read_text(), re.S)
    services = re.findall(r'Self::\w+ => "(\w+)"', (config / "service.rs").read_text())
    limits = re.findall(r'name: "(\w+)"', (config / "limits.rs").read_text())
    if not table or len(services) < 6 or not limits:
        raise Failure("shared/config/src: the settings table, services or limits were not found; update scripts/check-deploy.py")
    names = set(re.findall(r'"(SPOT_\w+)"', table.group(1)))
    names |= {f"SPOT_{service.upper()}_URL" for service in services}
    names |= {f"SPOT_LIMIT_{limit.upper()}" for limit in limits}
    return names


def agent_settings() -> set[str]:
    """The `SPOT_AGENT_*` names `spot-agent` reads (its flags' `env`)."""
    names = set(re.findall(r'env = "(SPOT_AGENT_\w+)"', (ROOT / "services/agent/src/main.rs").read_text()))
    if len(names) < 3:
        raise Failure("services/agent/src/main.rs: the agent's settings were not found; update scripts/check-deploy.py")
    return names


def check_names(where: str, names, known: set[str]) -> None:
    unknown = sorted(n for n in names if n.startswith("SPOT_") and n not in known)
    if unknown:
        raise Failure(f"{where}: {', '.join(unknown)} is not a setting the binary knows")


def check_compose(known: set[str]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    count = 0
    for name, service in compose.get("services", {}).items():
        env = service.get("environment") or {}
        names = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        check_names(f"docker-compose.yml: service {name}", names, known)
        count += 1
    print(f"docker-compose.yml: {count} services parse, their SPOT_* settings are known")


def render(chart: helm_python.Chart, values: dict, release: str, api_versions: list[str]) -> dict[str, str]:
    # Chart.render does not take the cluster's API versions, which the ServiceMonitor depends
    # on; its native call does (as `helm template --api-versions`). Pinned in
    # scripts/check-deploy-requirements.txt, so this private call does not move under us.
    options = {"name": release, "namespace": NAMESPACE, "kube_version": f"v{KUBERNETES}", "api_versions": api_versions}
    return json.loads(_native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options)))


def objects_of(manifests: dict[str, str]) -> list[tuple[str, dict]]:
    found = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            raise Failure(f"{template}: the rendered YAML does not parse: {error}") from error
        found += [(template, obj) for obj in documents if obj]
    return found


def describe(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def check_service_monitor(obj: dict) -> None:
    """ServiceMonitor (monitoring.coreos.com/v1) by hand: what the operator needs to scrape."""
    spec = obj.get("spec") or {}
    allowed = {"endpoints", "selector", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels",
               "sampleLimit", "targetLimit", "scrapeProtocols", "attachMetadata", "labelLimit",
               "labelNameLengthLimit", "labelValueLengthLimit", "keepDroppedTargets", "scrapeClass",
               "bodySizeLimit", "fallbackScrapeProtocol", "selectorMechanism",
               "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor",
               "scrapeClassicHistograms", "convertClassicHistogramsToNHCB"}
    problems = [f"spec.{key}: unknown field" for key in spec if key not in allowed]
    if not obj.get("metadata", {}).get("name"):
        problems.append("metadata.name: required")
    if not isinstance(spec.get("selector"), dict):
        problems.append("spec.selector: required")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problems.append("spec.endpoints: at least one is required")
    for i, endpoint in enumerate(endpoints or []):
        if not (endpoint.get("port") or endpoint.get("targetPort")):
            problems.append(f"spec.endpoints[{i}]: port (a Service port name) is required")
        for key in ("interval", "scrapeTimeout"):
            if key in endpoint and not re.fullmatch(r"(\d+(ms|s|m|h))+", str(endpoint[key])):
                problems.append(f"spec.endpoints[{i}].{key}: `{endpoint[key]}` is not a duration")
    if problems:
        raise Failure("; ".join(problems))


def validate(template: str, obj: dict) -> None:
    try:
        if obj.get("apiVersion") == "monitoring.coreos.com/v1" and obj.get("kind") == "ServiceMonitor":
            check_service_monitor(obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path) or "(top)"
        raise Failure(f"{template}: {describe(obj)}: {path}: {error.message}") from None
    except kubernetes_validate.SchemaNotFoundError:
        raise Failure(f"{template}: {describe(obj)}: no Kubernetes {KUBERNETES} schema for {obj.get('apiVersion')} {obj.get('kind')}") from None
    except Failure as failure:
        raise Failure(f"{template}: {describe(obj)}: {failure}") from None


def pod_templates(objects: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, its pod template) for every Deployment and Job."""
    return [(obj, obj["spec"]["template"]) for obj in objects if obj["kind"] in ("Deployment", "Job")]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def check_references(objects: list[dict], known: set[str]) -> None:
    """What schemas cannot see: the objects find each other, and env names are real settings."""
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        name = obj["metadata"]["name"]
        if name in by_kind.setdefault(obj["kind"], {}):
            raise Failure(f"{describe(obj)} is rendered twice")
        by_kind[obj["kind"]][name] = obj
    pods = pod_templates(objects)
    for workload, pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if workload["kind"] == "Deployment" and not selects(workload["spec"]["selector"], labels):
            raise Failure(f"{describe(workload)}: spec.selector does not match its pod template's labels")
        for container in pod["spec"]["containers"]:
            check_names(f"{describe(workload)} container {container['name']}", [e["name"] for e in container.get("env", [])], known)
    for secret in by_kind.get("Secret", {}).values():
        check_names(describe(secret), (secret.get("stringData") or {}).keys(), known)
    pod_labels = [pod["metadata"].get("labels") or {} for workload, pod in pods if workload["kind"] == "Deployment"]
    for kind, field in (("Service", "selector"), ("PodDisruptionBudget", "selector"), ("NetworkPolicy", "podSelector")):
        for obj in by_kind.get(kind, {}).values():
            selector = obj["spec"][field]
            selector = selector if kind != "Service" else {"matchLabels": selector}
            if not any(selects(selector, labels) for labels in pod_labels):
                raise Failure(f"{describe(obj)}: spec.{field} selects no pod of a Deployment")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        if hpa["spec"]["scaleTargetRef"]["name"] not in by_kind.get("Deployment", {}):
            raise Failure(f"{describe(hpa)}: scales a Deployment that is not rendered")
    for ingress in by_kind.get("Ingress", {}).values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = by_kind.get("Service", {}).get(backend["name"])
                ports = [p.get("name") for p in (service or {}).get("spec", {}).get("ports", [])]
                if service is None or backend["port"].get("name") not in ports:
                    raise Failure(f"{describe(ingress)}: its backend {backend['name']}:{backend['port']} is not a rendered Service port")


# What an operator relies on, per chart and values file (and cluster); each returns a problem.
def kinds(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def non_root(objects: list[dict]) -> str | None:
    for workload, pod in pod_templates(objects):
        spec = pod["spec"]
        for container in spec["containers"]:
            context = {**(spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
            if not context.get("runAsNonRoot") or context.get("allowPrivilegeEscalation") is not False:
                return f"{describe(workload)}: container {container['name']} may run as root or escalate"
            if not context.get("readOnlyRootFilesystem") or "ALL" not in (context.get("capabilities") or {}).get("drop", []):
                return f"{describe(workload)}: container {container['name']} has a writable root filesystem or capabilities"
    return None


def migration_hook(objects: list[dict]) -> str | None:
    jobs = kinds(objects, "Job")
    if not jobs:
        return "no migration Job"
    annotations = jobs[0]["metadata"].get("annotations") or {}
    if annotations.get("helm.sh/hook") != "pre-install,pre-upgrade":
        return f"the migration Job's hook is {annotations.get('helm.sh/hook')!r}, not pre-install,pre-upgrade"
    if jobs[0]["spec"]["template"]["spec"]["containers"][0].get("args") != ["migrate"]:
        return "the migration Job does not run `spot migrate`"
    return None


def expect(condition: bool, problem: str) -> str | None:
    return None if condition else problem


def env_of(objects: list[dict], name: str) -> list[dict]:
    """Every Deployment container's env entry called `name`."""
    return [entry for d in kinds(objects, "Deployment") for c in d["spec"]["template"]["spec"]["containers"]
            for entry in c.get("env", []) if entry["name"] == name]


BEHAVIOURS = {
    ("spot-optimizer", "minimal-values.yaml", ""): [
        lambda o: expect(not kinds(o, "HorizontalPodAutoscaler"), "an HPA is rendered without autoscaling"),
        lambda o: expect(not kinds(o, "Ingress"), "an Ingress is rendered without ingress.enabled"),
        lambda o: expect(not kinds(o, "Secret"), "a Secret is rendered although existingSecret names one"),
        lambda o: expect(not kinds(o, "ServiceMonitor"), "a ServiceMonitor is rendered without the Prometheus operator"),
        lambda o: expect(len(kinds(o, "Deployment")) == 6, "mode split is not one Deployment per service"),
        non_root,
        migration_hook,
    ],
    ("spot-optimizer", "single-values.yaml", ""): [
        lambda o: expect(len(kinds(o, "Deployment")) == 1, "mode single is not one Deployment"),
        non_root,
    ],
    ("spot-optimizer", "production-values.yaml", ""): [
        lambda o: expect(all(i["spec"].get("tls") for i in kinds(o, "Ingress")) and kinds(o, "Ingress"), "an Ingress has no TLS"),
        lambda o: expect(len(kinds(o, "HorizontalPodAutoscaler")) == 5, "autoscaling is not on for every service but billing"),
        lambda o: expect(len(kinds(o, "PodDisruptionBudget")) == 6, "a Deployment has no PodDisruptionBudget"),
        lambda o: expect(len(kinds(o, "NetworkPolicy")) == 3, "the edge, internal and egress NetworkPolicies are not all there"),
        lambda o: expect(not kinds(o, "ServiceMonitor"), "a ServiceMonitor is rendered without the Prometheus operator"),
        lambda o: expect(len(env_of(o, "OTEL_EXPORTER_OTLP_ENDPOINT")) == 6, "OTLP export is not configured in every service"),
        lambda o: expect(
            {e["value"] for e in env_of(o, "SPOT_PUBLIC_URL")} == {"https://grpc.spot.example.com"},
            "agents are not pointed at the Ingress's gRPC host"),
        non_root,
        migration_hook,
    ],
    ("spot-optimizer", "production-values.yaml", "with the Prometheus operator"): [
        lambda o: expect(len(kinds(o, "ServiceMonitor")) == 1, "no ServiceMonitor although the Prometheus operator is there"),
    ],
    ("spot-agent", "minimal-values.yaml", ""): [
        lambda o: expect(not kinds(o, "Secret"), "the agent chart creates a Secret by default"),
        lambda o: expect(
            [e["valueFrom"]["secretKeyRef"] for e in env_of(o, "SPOT_AGENT_API_KEY")] == [{"name": "spot-agent-key", "key": "api-key"}],
            "the agent does not read its key from the Secret spot-agent-key by default"),
        non_root,
    ],
    ("spot-agent", "production-values.yaml", ""): [
        lambda o: expect(
            [e["valueFrom"]["secretKeyRef"]["name"] for e in env_of(o, "SPOT_AGENT_API_KEY")] == [k["metadata"]["name"] for k in kinds(o, "Secret")],
            "the agent does not read its key from the Secret the chart made of apiKey"),
        non_root,
    ],
}


def lint(chart_dir: Path, values_file: Path, values: dict) -> None:
    report = helm_python.lint(chart_dir, values, namespace=NAMESPACE, kube_version=f"v{KUBERNETES}")
    problems = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    if problems:
        raise Failure(f"helm lint with {values_file.name}: " + "; ".join(problems))


def check_chart(name: str, known: set[str]) -> None:
    chart_dir = ROOT / "deploy/helm" / name
    release, clusters = CHARTS[name]
    chart = helm_python.Chart.load(chart_dir)
    values_files = sorted((chart_dir / "ci").glob("*.yaml"))
    if len(values_files) < 2:
        raise Failure(f"{chart_dir.relative_to(ROOT)}/ci: at least a minimal and a production-like values file are expected")
    for values_file in values_files:
        where = f"{name} {values_file.relative_to(chart_dir)}"
        values = yaml.safe_load(values_file.read_text()) or {}
        try:
            lint(chart_dir, values_file, values)
            for cluster, api_versions in clusters.items():
                label = f"{where}{f' ({cluster})' if cluster else ''}"
                try:
                    rendered = objects_of(render(chart, values, release, api_versions))
                except helm_python.HelmError as error:
                    raise Failure(f"the chart does not render: {error}") from None
                for template, obj in rendered:
                    validate(template, obj)
                objects = [obj for _, obj in rendered]
                check_references(objects, known)
                for behaviour in BEHAVIOURS.get((name, values_file.name, cluster), []):
                    problem = behaviour(objects)
                    if problem:
                        raise Failure(problem)
                print(f"{label}: {len(objects)} objects valid against Kubernetes {KUBERNETES} ({', '.join(sorted(set(o['kind'] for o in objects)))})")
        except Failure as failure:
            raise Failure(f"{where}: {failure}") from None


def main() -> int:
    try:
        known = {"platform": platform_settings(), "agent": agent_settings()}
        check_compose(known["platform"])
        for name in CHARTS:
            check_chart(name, known[SETTINGS_OF[name]])
    except Failure as failure:
        print(f"check-deploy: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
