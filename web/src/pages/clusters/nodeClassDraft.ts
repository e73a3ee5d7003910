import { create } from "@bufbuild/protobuf";
import { NodeClassSchema, ResourceSelectorSchema, type NodeClass, type ResourceSelector } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";

/** How a selector is typed: resource ids, or the tags every chosen resource carries. */
export type SelectorMode = "ids" | "tags";

/**
 * The node class form's state: numbers and lists as typed, so a wrong value (a 4 GiB root volume)
 * reaches the server, which owns the rules and answers with field errors. Keys are the proto field
 * paths the server names in its errors (`node_class.<key>`); the two `_by` keys choose how the
 * selector beside them is typed.
 */
export interface NodeClassDraft {
  subnets_by: SelectorMode;
  subnets: string;
  security_groups_by: SelectorMode;
  security_groups: string;
  instance_profile: string;
  ami_family: string;
  "ami_ids.amd64": string;
  "ami_ids.arm64": string;
  user_data: string;
  root_volume_gib: string;
  root_volume_type: string;
  metadata_hop_limit: string;
  tags: string;
}

export type NodeClassDraftErrors = Partial<Record<keyof NodeClassDraft, string>>;

export const NODE_CLASS_LABELS: Record<keyof NodeClassDraft, string> = {
  subnets_by: "Choose subnets by",
  subnets: "Subnets",
  security_groups_by: "Choose security groups by",
  security_groups: "Security groups",
  instance_profile: "Instance profile",
  ami_family: "Image family",
  "ami_ids.amd64": "Image for x86 (amd64)",
  "ami_ids.arm64": "Image for Arm (arm64)",
  user_data: "User data",
  root_volume_gib: "Root volume size (GiB)",
  root_volume_type: "Root volume type",
  metadata_hop_limit: "Metadata hop limit",
  tags: "Tags",
};

/** The architectures a class names images for, as people know them. */
export const ARCHITECTURES: Record<string, string> = { amd64: "x86 (amd64)", arm64: "Arm (arm64)" };

/** The image families, as people know them. */
export const AMI_FAMILIES = [
  { value: "al2023", label: "Amazon Linux 2023" },
  { value: "bottlerocket", label: "Bottlerocket" },
] as const;

export const ROOT_VOLUME_TYPES = [
  { value: "gp3", label: "gp3 (general purpose SSD)" },
  { value: "gp2", label: "gp2 (previous general purpose SSD)" },
] as const;

export const amiFamilyLabel = (value: string) => AMI_FAMILIES.find((f) => f.value === value)?.label ?? (value || "Amazon Linux 2023");

const tagLines = (tags: { [key: string]: string }) =>
  Object.entries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");

/** "key=value" lines (a missing value is empty); blank lines are skipped. */
export function parseTags(text: string): { [key: string]: string } {
  const tags: { [key: string]: string } = {};
  for (const line of text.split("\n").map((s) => s.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    const [key, value] = at < 0 ? [line, ""] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    tags[key] = value;
  }
  return tags;
}

const splitIds = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function selectorDraft(selector: ResourceSelector | undefined, clusterName: string): [SelectorMode, string] {
  if (!selector) return ["tags", `karpenter.sh/discovery=${clusterName}`];
  if (selector.ids.length > 0) return ["ids", selector.ids.join(", ")];
  return ["tags", tagLines(selector.tags)];
}

/**
 * The form for `nodeClass`, or without one the starting class Karpenter's guide describes: the
 * subnets and security groups tagged `karpenter.sh/discovery=<cluster name>`, Amazon Linux 2023,
 * a 20 GiB gp3 root volume, metadata hop limit 1.
 */
export function toNodeClassDraft(nodeClass: NodeClass | undefined, clusterName: string): NodeClassDraft {
  const [subnetsBy, subnets] = selectorDraft(nodeClass?.subnets, clusterName);
  const [groupsBy, groups] = selectorDraft(nodeClass?.securityGroups, clusterName);
  return {
    subnets_by: subnetsBy,
    subnets,
    security_groups_by: groupsBy,
    security_groups: groups,
    instance_profile: nodeClass?.instanceProfile ?? "",
    ami_family: nodeClass?.amiFamily || "al2023",
    "ami_ids.amd64": nodeClass?.amiIds.amd64 ?? "",
    "ami_ids.arm64": nodeClass?.amiIds.arm64 ?? "",
    user_data: nodeClass?.userData ?? "",
    root_volume_gib: String(nodeClass?.rootVolumeGib ?? 20),
    root_volume_type: nodeClass?.rootVolumeType || "gp3",
    metadata_hop_limit: String(nodeClass?.metadataHopLimit ?? 1),
    tags: nodeClass ? tagLines(nodeClass.tags) : "",
  };
}

/** Converts the draft; values that cannot even be encoded (not a whole number) are errors here. */
export function fromNodeClassDraft(draft: NodeClassDraft, clusterId: string): { nodeClass?: NodeClass; errors: NodeClassDraftErrors } {
  const errors: NodeClassDraftErrors = {};
  const whole = (key: "root_volume_gib" | "metadata_hop_limit"): number => {
    const text = draft[key].trim();
    const value = text === "" ? 0 : Number(text);
    if (!Number.isInteger(value) || value < 0 || value > 2 ** 32 - 1) {
      errors[key] = "must be a whole number, 0 or more";
      return 0;
    }
    return value;
  };
  const selector = (by: SelectorMode, text: string) =>
    create(ResourceSelectorSchema, by === "ids" ? { ids: splitIds(text) } : { tags: parseTags(text) });
  const amiIds: { [key: string]: string } = {};
  for (const arch of ["amd64", "arm64"] as const) {
    const id = draft[`ami_ids.${arch}`].trim();
    if (id) amiIds[arch] = id;
  }
  const nodeClass = create(NodeClassSchema, {
    clusterId,
    subnets: selector(draft.subnets_by, draft.subnets),
    securityGroups: selector(draft.security_groups_by, draft.security_groups),
    instanceProfile: draft.instance_profile.trim(),
    amiFamily: draft.ami_family,
    amiIds,
    userData: draft.user_data,
    rootVolumeGib: whole("root_volume_gib"),
    rootVolumeType: draft.root_volume_type,
    metadataHopLimit: whole("metadata_hop_limit"),
    tags: parseTags(draft.tags),
  });
  return Object.keys(errors).length ? { errors } : { nodeClass, errors };
}

/**
 * Which input a server field path belongs to, without the `node_class.` prefix:
 * "subnets.ids" -> subnets, "tags.team" -> tags, "ami_ids.arm64" -> ami_ids.arm64.
 */
export function nodeClassKeyFor(field: string): keyof NodeClassDraft | null {
  const clean = field.replace(/^node_class\./, "").replace(/\[\d+\]/g, "");
  for (const key of ["subnets", "security_groups", "tags"] as const) {
    if (clean === key || clean.startsWith(`${key}.`)) return key;
  }
  if (clean === "ami_ids.amd64" || clean === "ami_ids.arm64") return clean;
  const simple = ["instance_profile", "ami_family", "user_data", "root_volume_gib", "root_volume_type", "metadata_hop_limit"] as const;
  return simple.find((key) => key === clean) ?? null;
}

const GENERAL_LABELS: Record<string, string> = { ami_ids: "Images", cluster_id: "Cluster", node_class: "Node class" };

/** Sorts field reasons by input; the ones no input owns are general. */
export function sortNodeClassErrors(reasons: { field: string; reason: string }[]): { fields: NodeClassDraftErrors; general: string[] } {
  const fields: NodeClassDraftErrors = {};
  const general: string[] = [];
  for (const { field, reason: said } of reasons) {
    const path = field.replace(/^node_class\./, "");
    const key = path ? nodeClassKeyFor(path) : null;
    // One tag's reason names the tag: "kubernetes.io/cluster/x: keys starting with ...".
    const reason = key === "tags" && path.startsWith("tags.") ? `${path.slice("tags.".length)}: ${said}` : said;
    if (key) fields[key] = fields[key] ? `${fields[key]}; ${reason}` : reason;
    else general.push(path ? `${GENERAL_LABELS[path.split(".")[0]] ?? path}: ${reason}` : reason);
  }
  return { fields, general };
}
