import { ActionKind } from "@spot-optimizer/sdk/gen/spot/agent/v1/agent_pb.js";
import { ActionStatus } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { Button } from "../../components/ui";
import { useMe } from "../../components/useMe";
import { viewerReason } from "../optimizer/ApplyPlan";

/** An operator's cordon or drain of one node, through the same checks as a plan's steps. */
export function NodeActionButtons({ clusterId, nodeName, cordoned }: { clusterId: string; nodeName: string; cordoned: boolean }) {
  const queryClient = useQueryClient();
  const submit = useMutation({
    mutationFn: async (kind: ActionKind) => (await api.clusters().submitAction({ clusterId, nodeName, kind })).action,
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["actions", clusterId] }),
  });
  const refused = submit.data?.status === ActionStatus.REFUSED;
  const me = useMe();
  const reasonId = useId();
  // Why both buttons are off, said once beside them (and as their tooltip).
  const blocked = me.data?.safeMode
    ? "Safe mode is on: no node is cordoned or drained until a platform admin turns it off."
    : viewerReason(me.data?.user?.role, "cordon or drain nodes");
  const disabled = submit.isPending || !!blocked;
  const described = { title: blocked ?? undefined, "aria-describedby": blocked ? reasonId : undefined };
  return (
    <span className="flex items-center gap-1">
      <Button
        variant="ghost"
        className="!px-1.5 !py-0.5 text-xs"
        disabled={disabled}
        {...described}
        onClick={() => submit.mutate(cordoned ? ActionKind.UNCORDON : ActionKind.CORDON)}
        aria-label={`${cordoned ? "Uncordon" : "Cordon"} ${nodeName}`}
      >
        {cordoned ? "Uncordon" : "Cordon"}
      </Button>
      <Button variant="ghost" className="!px-1.5 !py-0.5 text-xs" disabled={disabled} {...described} onClick={() => submit.mutate(ActionKind.DRAIN)} aria-label={`Drain ${nodeName}`}>
        Drain
      </Button>
      {blocked && (
        <span id={reasonId} className="sr-only" data-testid="node-action-disabled-reason">
          {blocked}
        </span>
      )}
      {(submit.isError || refused) && (
        <span role="alert" className="text-xs text-red-700">
          {submit.isError ? errorMessage(submit.error) : `Refused: ${submit.data?.message}`}
        </span>
      )}
    </span>
  );
}
