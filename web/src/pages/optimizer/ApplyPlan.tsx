import { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";
import { PlanKind, PlanState, StepKind, type Plan } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatUsdPerHour } from "../../api/format";
import { useClusters } from "../../components/ClusterPicker";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { useAutopilotStatus } from "../../components/PolicyCompliance";
import { Button } from "../../components/ui";
import { useMe } from "../../components/useMe";
import { planKindLabel } from "./planLabels";

/** Why the Apply button is disabled: one line, and whether the way out is on the billing page. */
export interface ApplyBlock {
  reason: string;
  billing?: boolean;
}

/**
 * Plans billing may hold back: those that move running workloads to save or to comply (the
 * optimizer's `held_by_billing`). New capacity for waiting pods and interruption responses never are.
 */
export function heldByBilling(kind: PlanKind): boolean {
  return kind !== PlanKind.PROVISIONING && kind !== PlanKind.INTERRUPTION_RESPONSE;
}

const notRecommended: Record<PlanState, string> = {
  [PlanState.UNSPECIFIED]: "Only a recommended plan can be applied.",
  [PlanState.RECOMMENDED]: "",
  [PlanState.APPLYING]: "This plan is being applied already.",
  [PlanState.SUCCEEDED]: "This plan was applied and succeeded: only a recommended plan can be applied.",
  [PlanState.FAILED]: "This plan was applied and failed: get a new recommendation to try again.",
  [PlanState.REFUSED]: "This plan was refused: get a new recommendation to try again.",
};

/**
 * Why the plan cannot be applied now, as far as the app can tell; null when nothing it knows
 * of stands in the way. Only an explanation: ApplyPlan refuses on the server whatever this says.
 */
export function applyBlock(plan: Plan, safeMode: boolean, billingHold: string, role?: Role): ApplyBlock | null {
  if (plan.state !== PlanState.RECOMMENDED) return { reason: notRecommended[plan.state] ?? notRecommended[PlanState.UNSPECIFIED] };
  if (plan.steps.length === 0) return { reason: "This plan has no steps: there is nothing to apply." };
  const viewerBlock = viewerReason(role, "apply plans");
  if (viewerBlock) return { reason: viewerBlock };
  if (safeMode) return { reason: "Safe mode is on: the platform changes nothing in any cluster until a platform admin turns it off." };
  if (billingHold && heldByBilling(plan.kind)) {
    return { reason: `Billing holds back consolidation and compliance plans: ${billingHold.replace(/\.\s*$/, "")}.`, billing: true };
  }
  return null;
}

/**
 * Why a viewer's button is disabled ("apply plans", "cordon or drain nodes"); null for any other
 * role, or while the caller's role is not known yet (the server decides in the end).
 */
export function viewerReason(role: Role | undefined, what: string): string | null {
  return role === Role.VIEWER ? `Your role in this organization is Viewer, which cannot ${what}: ask an owner or admin for the Member role.` : null;
}

/** "launch 2 nodes, drain 1 and terminate 1": what the plan's steps do, counted by kind. */
export function planEffects(plan: Plan): string {
  const count = (kind: StepKind) => plan.steps.filter((s) => s.kind === kind).length;
  const launched = plan.steps.filter((s) => s.kind === StepKind.LAUNCH).reduce((sum, s) => sum + (s.count || 1), 0);
  const parts = (
    [
      ["launch", launched],
      ["cordon", count(StepKind.CORDON)],
      ["drain", count(StepKind.DRAIN)],
      ["terminate", count(StepKind.TERMINATE)],
    ] as const
  )
    .filter(([, n]) => n > 0)
    .map(([verb, n], i) => (i === 0 ? `${verb} ${n} node${n === 1 ? "" : "s"}` : `${verb} ${n}`));
  if (parts.length === 0) return `run ${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"}`;
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

/**
 * The Apply button of a plan: disabled, with the reason beside it, when the plan cannot be
 * applied; otherwise it asks for confirmation (which cluster, what the plan does) and opens the
 * applied plan's page.
 */
export function ApplyPlan({ plan }: { plan: Plan }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useMe();
  const status = useAutopilotStatus(plan.clusterId, 30_000);
  const clusters = useClusters();
  const reasonId = useId();
  const [confirming, setConfirming] = useState(false);
  const apply = useMutation({
    mutationFn: async () => (await api.optimizer().applyPlan({ planId: plan.id })).plan,
    onSuccess: (applied) => {
      void queryClient.invalidateQueries({ queryKey: ["plans", plan.clusterId] });
      if (applied) {
        queryClient.setQueryData(["plan", applied.id], applied);
        navigate(`/optimizer/plans/${applied.id}`);
      }
    },
    onSettled: () => setConfirming(false),
  });
  const block = applyBlock(plan, !!me.data?.safeMode, status.data?.billingHold ?? "", me.data?.user?.role);
  const clusterName = clusters.data?.find((c) => c.id === plan.clusterId)?.name ?? plan.clusterId;
  const kind = plan.kind === PlanKind.UNSPECIFIED ? "" : `${planKindLabel(plan.kind).toLowerCase()} `;
  return (
    <div className="space-y-2">
      {apply.isError && (
        <p role="alert" className="text-sm text-red-700">
          {errorMessage(apply.error)}
        </p>
      )}
      <div className="flex flex-wrap items-center gap-3">
        <Button
          onClick={() => setConfirming(true)}
          disabled={!!block || apply.isPending}
          title={block?.reason}
          aria-describedby={block ? reasonId : undefined}
        >
          {apply.isPending ? "Applying…" : "Apply plan"}
        </Button>
        {block && (
          <p id={reasonId} data-testid="apply-disabled-reason" className="text-sm text-slate-600">
            {block.reason}
            {block.billing && (
              <>
                {" "}
                <Link to="/billing" className="font-medium text-indigo-700 underline">
                  Go to billing
                </Link>
              </>
            )}
          </p>
        )}
      </div>
      <ConfirmDialog
        open={confirming}
        title={`Apply ${kind}plan to cluster ${clusterName}?`}
        confirmLabel="Apply"
        busy={apply.isPending}
        onConfirm={() => apply.mutate()}
        onCancel={() => setConfirming(false)}
      >
        <p>
          It will {planEffects(plan)} in cluster {clusterName}, step by step in the order listed.
        </p>
        <p className="mt-2 text-xs text-slate-500">
          Plan {plan.id} · cost {formatUsdPerHour(plan.currentUsdPerHour)}/h now, {formatUsdPerHour(plan.targetUsdPerHour)}/h after.
        </p>
      </ConfirmDialog>
    </div>
  );
}
