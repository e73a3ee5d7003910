import { Link } from "react-router";
import { formatTime } from "../../api/format";
import { useClusters } from "../../components/ClusterPicker";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card, PageHeader, Table, Td } from "../../components/ui";
import { RegisterClusterForm } from "./RegisterClusterForm";

export function ClustersPage() {
  const clusters = useClusters();
  return (
    <>
      <PageHeader title="Clusters" description="Every cluster connected to the platform. Open one to see its nodes, pods, agent and actions." />
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Your clusters" className="lg:col-span-2">
          <QueryView
            query={clusters}
            feature="Clusters"
            isEmpty={(list) => list.length === 0}
            empty={<Empty title="No clusters yet">Register one on the right, or adopt one found in a linked AWS account.</Empty>}
          >
            {(list) => (
              <Table caption="Clusters" head={["Name", "Region", "AWS account", "Mode", "Registered"]}>
                {list.map((c) => (
                  <tr key={c.id}>
                    <Td>
                      <Link to={`/clusters/${c.id}`} className="font-medium text-indigo-700 hover:underline">
                        {c.name}
                      </Link>
                    </Td>
                    <Td>{c.region}</Td>
                    <Td>{c.awsAccountId || "—"}</Td>
                    <Td>{c.dryRun ? <Badge tone="amber">Dry run</Badge> : <Badge tone="green">Autopilot</Badge>}</Td>
                    <Td>{formatTime(c.createdAt)}</Td>
                  </tr>
                ))}
              </Table>
            )}
          </QueryView>
        </Card>
        <RegisterClusterForm />
      </div>
    </>
  );
}
