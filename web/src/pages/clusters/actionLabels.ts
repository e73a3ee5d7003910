import type { Node } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { ActionKind, type Action } from "@spot-optimizer/sdk/gen/spot/agent/v1/agent_pb.js";

const VERBS: Record<ActionKind, string> = {
  [ActionKind.UNSPECIFIED]: "Act on",
  [ActionKind.CORDON]: "Cordon",
  [ActionKind.UNCORDON]: "Uncordon",
  [ActionKind.DRAIN]: "Drain",
  [ActionKind.LABEL]: "Label",
  [ActionKind.TAINT]: "Taint",
  [ActionKind.DELETE_NODE]: "Delete",
};

/**
 * An agent action as a sentence: "Drain node ip-10-0-1-5 (m5.large, us-east-1a)", with the
 * node's type and zone when the cluster still reports the node, and what a label or taint sets.
 */
export function actionSentence(action: Action | undefined, node: Node | undefined): string {
  if (!action) return "—";
  const where = node ? [node.instanceType, node.zone].filter(Boolean).join(", ") : "";
  const target = `node ${action.nodeName || "(unnamed)"}${where ? ` (${where})` : ""}`;
  const sentence = `${VERBS[action.kind] ?? VERBS[ActionKind.UNSPECIFIED]} ${target}`;
  if (action.kind === ActionKind.LABEL) {
    const labels = Object.entries(action.labels).map(([k, v]) => `${k}=${v}`);
    return labels.length ? `${sentence} with ${labels.join(", ")}` : sentence;
  }
  if (action.kind === ActionKind.TAINT) {
    const set = action.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ""}`);
    const parts = [set.length ? `set ${set.join(", ")}` : "", action.removeTaintKeys.length ? `remove ${action.removeTaintKeys.join(", ")}` : ""].filter(Boolean);
    return parts.length ? `${sentence}: ${parts.join("; ")}` : sentence;
  }
  return sentence;
}
