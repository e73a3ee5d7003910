import type { Policy } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";

/** Where the policy shown comes from, when it is not the cluster's own. */
export function PolicySource({ clusterId, current }: { clusterId: string; current: Policy | undefined }) {
  let text: string | null = null;
  if (!current || current.version === 0) text = "This is the built-in policy: nothing has been saved yet. Saving creates version 1.";
  else if (clusterId && current.clusterId !== clusterId) text = "This cluster follows the tenant default. Saving here gives the cluster its own policy.";
  if (!text) return null;
  return (
    <p role="note" className="mb-3 rounded-md bg-sky-50 p-2 text-sm text-sky-900">
      {text}
    </p>
  );
}
