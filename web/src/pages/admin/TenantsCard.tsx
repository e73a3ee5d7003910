import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { formatTime } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";

export function TenantsCard() {
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens[tokens.length - 1];
  const tenants = useQuery({
    queryKey: ["tenants", pageToken],
    queryFn: () => api.admin().listTenants({ page: { pageSize: 20, pageToken } }),
    placeholderData: keepPreviousData,
  });
  const next = tenants.data?.page?.nextPageToken;
  return (
    <Card
      title="Tenants"
      actions={
        <nav aria-label="Tenant pages" className="flex gap-1">
          <Button variant="secondary" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous
          </Button>
          <Button variant="secondary" disabled={!next} onClick={() => next && setTokens([...tokens, next])}>
            Next
          </Button>
        </nav>
      }
    >
      <QueryView query={tenants} feature="Tenants" isEmpty={(r) => r.tenants.length === 0} empty={<Empty title="No tenants" />}>
        {(r) => (
          <Table caption="Tenants" head={["Name", "Users", "Clusters", "Created"]}>
            {r.tenants.map((t) => (
              <tr key={t.id}>
                <Td className="font-medium">{t.name}</Td>
                <Td>{t.users}</Td>
                <Td>{t.clusters < 0 ? <span title="The cluster service did not answer">unknown</span> : t.clusters}</Td>
                <Td>{formatTime(t.createdAt)}</Td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
