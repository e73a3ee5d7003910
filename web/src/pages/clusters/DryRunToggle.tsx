import type { cluster as pb } from "@spot-optimizer/sdk";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { Button } from "../../components/ui";

/** Switches a cluster between autopilot and recommendation-only. */
export function DryRunToggle({ cluster }: { cluster: pb.Cluster }) {
  const queryClient = useQueryClient();
  const toggle = useMutation({
    mutationFn: () => api.clusters().setClusterDryRun({ clusterId: cluster.id, dryRun: !cluster.dryRun }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["cluster", cluster.id] });
      void queryClient.invalidateQueries({ queryKey: ["clusters"] });
    },
  });
  return (
    <span className="flex items-center gap-2">
      {toggle.isError && (
        <span role="alert" className="text-xs text-red-700">
          {errorMessage(toggle.error)}
        </span>
      )}
      <Button variant="secondary" onClick={() => toggle.mutate()} disabled={toggle.isPending} aria-pressed={cluster.dryRun}>
        {cluster.dryRun ? "Turn dry run off" : "Turn dry run on"}
      </Button>
    </span>
  );
}
