import { useQueries, useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { PolicyRule, type GetAutopilotStatusResponse } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { api } from "../api/clients";
import { UnplacedPods } from "../pages/optimizer/UnplacedPods";
import { useClusters } from "./ClusterPicker";
import { QueryView } from "./states";
import { Badge, Card } from "./ui";

const ruleLabels: Record<PolicyRule, string> = {
  [PolicyRule.UNSPECIFIED]: "Policy",
  [PolicyRule.SPOT_SHARE]: "Spot share",
  [PolicyRule.ON_DEMAND_BASE]: "On-demand base",
  [PolicyRule.INSTANCE_TYPE]: "Instance types",
  [PolicyRule.INTERRUPTION_BUCKET]: "Interruption risk",
  [PolicyRule.PRICE_CAP]: "Price cap",
  [PolicyRule.SPOT_POOLS]: "Spot pools",
};

const statusKey = (clusterId: string) => ["autopilot-status", clusterId];
const fetchStatus = (clusterId: string) => api.optimizer().getAutopilotStatus({ clusterId });

/** The cluster's autopilot status (`OptimizerService.GetAutopilotStatus`), shared by every reader. */
export function useAutopilotStatus(clusterId: string, refetchInterval = 15_000) {
  return useQuery({ queryKey: statusKey(clusterId), queryFn: () => fetchStatus(clusterId), refetchInterval, enabled: !!clusterId });
}

/** Why billing holds back the cluster's consolidation and compliance plans, with the way to Billing. */
export function BillingHoldNote({ reason }: { reason: string }) {
  if (!reason) return null;
  return (
    <div role="note" data-testid="billing-hold" className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900">
      <strong>Billing holds back consolidation:</strong> {reason.replace(/\.\s*$/, "")}. Consolidation and compliance plans are recommended, not applied; new capacity for
      waiting pods and interruption handling go on.{" "}
      <Link to="/billing" className="font-medium underline">
        Go to billing
      </Link>
    </div>
  );
}

/** Whether a cluster's nodes meet its policy, why not, and pods no new node would help. */
export function PolicyComplianceCard({ clusterId }: { clusterId: string }) {
  const query = useAutopilotStatus(clusterId);
  return (
    <Card title="Policy compliance">
      <QueryView query={query} feature="Policy compliance">
        {(status) => <ComplianceDetail status={status} />}
      </QueryView>
    </Card>
  );
}

function ComplianceDetail({ status }: { status: GetAutopilotStatusResponse }) {
  return (
    <div className="space-y-2 text-sm">
      <BillingHoldNote reason={status.billingHold} />
      {status.compliant ? (
        <p>
          <Badge tone="green">Within policy</Badge> The cluster's nodes meet every part of its policy.
        </p>
      ) : (
        <>
          <p>
            <Badge tone="amber">Out of policy</Badge>{" "}
            {status.cannotMeet
              ? "No plan can meet the policy with the instance types it admits now, so the cluster keeps its nodes."
              : status.billingHold
                ? "Billing holds back compliance plans, so the autopilot only recommends one for now."
                : "The autopilot applies a compliance plan within the disruption budget and windows, whatever it costs (in dry-run it only recommends one)."}
          </p>
          <ul className="list-disc pl-5">
            {status.breaches.map((breach, i) => (
              <li key={i}>
                <span className="font-medium">{ruleLabels[breach.rule]}:</span> {breach.detail}
              </li>
            ))}
          </ul>
          {status.cannotMeet && <p className="text-amber-900">Cannot be met: {status.cannotMeet}</p>}
        </>
      )}
      <UnplacedPods pods={status.unplaceablePods} title={`${status.unplaceablePods.length} pods wait for something a new node cannot give them:`} />
    </div>
  );
}

/** The clusters that break their policy, each with why; nothing when all meet theirs. */
export function OutOfPolicyClusters() {
  const clusters = useClusters();
  const statuses = useQueries({
    queries: (clusters.data ?? []).map((c) => ({ queryKey: statusKey(c.id), queryFn: () => fetchStatus(c.id), refetchInterval: 30_000 })),
  });
  const out = (clusters.data ?? [])
    .map((cluster, i) => ({ cluster, status: statuses[i]?.data }))
    .filter(({ status }) => status && (!status.compliant || status.unplaceablePods.length > 0));
  if (out.length === 0) return null;
  return (
    <Card title="Needs attention">
      <ul className="space-y-3 text-sm">
        {out.map(({ cluster, status }) => (
          <li key={cluster.id}>
            <Link to={`/clusters/${cluster.id}`} className="font-medium text-indigo-700 underline">
              {cluster.name}
            </Link>
            {status && <ComplianceDetail status={status} />}
          </li>
        ))}
      </ul>
    </Card>
  );
}
