import type { Policy } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { actorLabel } from "../audit/actorLabel";

/** Earlier versions of the policy, each one a rollback away. */
export function PolicyVersions({ clusterId }: { clusterId: string }) {
  const queryClient = useQueryClient();
  const [target, setTarget] = useState<Policy | null>(null);
  const versions = useQuery({
    queryKey: ["policy-versions", clusterId],
    queryFn: async () => (await api.policy().listPolicyVersions({ clusterId, page: { pageSize: 50 } })).versions,
  });
  const rollback = useMutation({
    mutationFn: (version: number) => api.policy().rollbackPolicy({ clusterId, version }),
    onSuccess: () => {
      setTarget(null);
      void queryClient.invalidateQueries({ queryKey: ["policy", clusterId] });
      void queryClient.invalidateQueries({ queryKey: ["policy-versions", clusterId] });
    },
  });
  return (
    <Card title="Versions">
      {rollback.isError && (
        <p role="alert" className="mb-2 text-sm text-red-700">
          {errorMessage(rollback.error)}
        </p>
      )}
      <QueryView
        query={versions}
        feature="Policy versions"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="No saved versions">Every saved change becomes a version you can roll back to.</Empty>}
      >
        {(list) => (
          <Table caption="Policy versions" head={["Version", "Spot %", "Changed by", "Changed at", ""]}>
            {list.map((v, i) => (
              <tr key={v.version}>
                <Td>{v.version}</Td>
                <Td>{v.spotPercent}</Td>
                <Td>{actorLabel(v.changedBy)}</Td>
                <Td>{formatTime(v.changedAt)}</Td>
                <Td>
                  {i > 0 && (
                    <Button variant="secondary" onClick={() => setTarget(v)} aria-label={`Roll back to version ${v.version}`}>
                      Roll back
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
      <ConfirmDialog
        open={!!target}
        title={`Roll back to version ${target?.version}?`}
        confirmLabel="Roll back"
        busy={rollback.isPending}
        onConfirm={() => target && rollback.mutate(target.version)}
        onCancel={() => setTarget(null)}
      >
        The policy becomes a copy of version {target?.version}, saved as a new version. The optimizer uses it from its next plan.
      </ConfirmDialog>
    </Card>
  );
}
