import { CapacityType, type Node } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { enumLabel, formatCpu, formatMib } from "../../api/format";
import { SelectField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card, Table, Td } from "../../components/ui";
import { NodeActionButtons } from "./NodeActionButtons";

const GROUPINGS = {
  type: { label: "Instance type", key: (n: Node) => n.instanceType || "unknown" },
  zone: { label: "Zone", key: (n: Node) => n.zone || "unknown" },
  capacity: { label: "Capacity type", key: (n: Node) => enumLabel(CapacityType[n.capacityType]) },
} as const;
type Grouping = keyof typeof GROUPINGS;

async function allNodes(clusterId: string): Promise<Node[]> {
  const nodes: Node[] = [];
  let pageToken = "";
  do {
    const response = await api.clusters().listNodes({ clusterId, page: { pageSize: 500, pageToken } });
    nodes.push(...response.nodes);
    pageToken = response.page?.nextPageToken ?? "";
  } while (pageToken);
  return nodes;
}

/** The cluster's nodes, under one key for every part of the page that names them. */
export function useClusterNodes(clusterId: string) {
  return useQuery({ queryKey: ["nodes", clusterId], queryFn: () => allNodes(clusterId), refetchInterval: 10_000 });
}

export function CapacityBadge({ type }: { type: CapacityType }) {
  return type === CapacityType.SPOT ? <Badge tone="indigo">Spot</Badge> : type === CapacityType.ON_DEMAND ? <Badge tone="sky">On-demand</Badge> : <Badge>Unknown</Badge>;
}

/** The cluster's nodes, counted by type, zone or capacity type, and listed. */
export function NodesSection({ clusterId }: { clusterId: string }) {
  const [grouping, setGrouping] = useState<Grouping>("type");
  const query = useClusterNodes(clusterId);
  return (
    <Card
      title="Nodes"
      actions={
        <div className="w-44">
          <SelectField label="Group by" value={grouping} onChange={(e) => setGrouping(e.target.value as Grouping)}>
            {Object.entries(GROUPINGS).map(([value, g]) => (
              <option key={value} value={value}>
                {g.label}
              </option>
            ))}
          </SelectField>
        </div>
      }
    >
      <QueryView
        query={query}
        feature="Nodes"
        isEmpty={(nodes) => nodes.length === 0}
        empty={<Empty title="No nodes reported">The cluster's agent has not reported any nodes yet. Install the agent, or check its status above.</Empty>}
      >
        {(nodes) => {
          const groups = new Map<string, Node[]>();
          for (const node of nodes) {
            const key = GROUPINGS[grouping].key(node);
            groups.set(key, [...(groups.get(key) ?? []), node]);
          }
          const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
          return (
            <div className="space-y-4">
              <ul aria-label={`Nodes by ${GROUPINGS[grouping].label.toLowerCase()}`} className="flex flex-wrap gap-2">
                {sorted.map(([key, list]) => (
                  <li key={key} className="rounded-md border border-slate-200 px-3 py-1.5 text-sm">
                    <span className="font-medium">{key}</span> <span className="text-slate-500">× {list.length}</span>
                  </li>
                ))}
              </ul>
              <div className="max-h-80 overflow-y-auto">
                <Table caption="Nodes" head={["Name", "Type", "Zone", "Capacity", "CPU", "Memory", "State", "Actions"]}>
                  {nodes.map((n) => (
                    <tr key={n.name}>
                      <Td className="font-mono text-xs">{n.name}</Td>
                      <Td>{n.instanceType}</Td>
                      <Td>{n.zone}</Td>
                      <Td>
                        <CapacityBadge type={n.capacityType} />
                      </Td>
                      <Td>{n.allocatable ? formatCpu(n.allocatable.cpuMillis) : "—"}</Td>
                      <Td>{n.allocatable ? formatMib(n.allocatable.memoryMib) : "—"}</Td>
                      <Td>
                        {n.ready ? <Badge tone="green">Ready</Badge> : <Badge tone="red">Not ready</Badge>} {n.cordoned && <Badge tone="amber">Cordoned</Badge>}
                      </Td>
                      <Td>
                        <NodeActionButtons clusterId={clusterId} nodeName={n.name} cordoned={n.cordoned} />
                      </Td>
                    </tr>
                  ))}
                </Table>
              </div>
            </div>
          );
        }}
      </QueryView>
    </Card>
  );
}
