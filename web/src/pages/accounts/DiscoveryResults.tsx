import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatPercent, formatUsdPerHour } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { InstallCommand } from "../clusters/InstallCommand";

const topEntries = (map: Record<string, number>) =>
  Object.entries(map)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} × ${v}`)
    .join(", ");

/** Clusters found in one linked account, each adoptable. */
export function DiscoveryResults({ accountId }: { accountId: string }) {
  const queryClient = useQueryClient();
  const discovery = useQuery({
    queryKey: ["discovery", accountId],
    queryFn: async () => (await api.accounts().discoverClusters({ id: accountId })).clusters,
  });
  const adopt = useMutation({
    mutationFn: (discoveredClusterId: string) => api.accounts().adoptCluster({ discoveredClusterId }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["clusters"] }),
  });
  return (
    <Card title="Discovered clusters">
      <QueryView
        query={discovery}
        feature="Cluster discovery"
        loadingLabel="Scanning the account's regions"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="No clusters found">No EC2 instances carry an EKS or Kubernetes cluster tag in this account's enabled regions.</Empty>}
      >
        {(list) => (
          <Table caption="Discovered clusters" head={["Name", "Region", "Nodes", "Spot share", "Cost", ""]}>
            {list.map((c) => (
              <tr key={c.id}>
                <Td>
                  <span className="font-medium">{c.name}</span>
                  <p className="text-xs text-slate-500">{topEntries(c.instanceTypes)}</p>
                  <p className="text-xs text-slate-500">{topEntries(c.zones)}</p>
                </Td>
                <Td>{c.region}</Td>
                <Td>{c.nodes}</Td>
                <Td>{formatPercent(c.spotSharePercent)}</Td>
                <Td>{formatUsdPerHour(c.hourlyCostUsd)}/h</Td>
                <Td>
                  <Button onClick={() => adopt.mutate(c.id)} disabled={adopt.isPending} aria-label={`Adopt ${c.name}`}>
                    Adopt
                  </Button>
                </Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
      {adopt.isError && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {errorMessage(adopt.error)}
        </p>
      )}
      {adopt.data && (
        <div className="mt-4">
          <p className="mb-2 text-sm">
            <strong>{adopt.data.cluster?.name}</strong> is adopted. Install the agent in it:
          </p>
          <InstallCommand agentKey={adopt.data.agentKey} command={adopt.data.installCommand} />
        </div>
      )}
    </Card>
  );
}
