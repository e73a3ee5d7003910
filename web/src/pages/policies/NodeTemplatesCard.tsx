import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { NodeTemplateForm } from "./NodeTemplateForm";
import { TaintEffect } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";

/** The tenant's node templates: list, create, delete. */
export function NodeTemplatesCard() {
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  const templates = useQuery({
    queryKey: ["node-templates"],
    queryFn: async () => (await api.templates().listNodeTemplates({ page: { pageSize: 200 } })).templates,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.templates().deleteNodeTemplate({ id }),
    onSettled: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ["node-templates"] });
    },
  });
  return (
    <Card title="Node templates">
      <QueryView query={templates} feature="Node templates">
        {(list) => (
          <div className="grid gap-4 lg:grid-cols-2">
            <div>
              {remove.isError && (
                <p role="alert" className="mb-2 text-sm text-red-700">
                  {errorMessage(remove.error)}
                </p>
              )}
              {list.length === 0 ? (
                <Empty title="No node templates">A template names instance requirements plus the labels and taints its nodes get.</Empty>
              ) : (
                <Table caption="Node templates" head={["Name", "Requirements", "Labels", "Taints", ""]}>
                  {list.map((t) => (
                    <tr key={t.id}>
                      <Td className="font-medium">{t.name}</Td>
                      <Td className="font-mono text-xs">{t.requirements.map((r) => `${r.key} ${r.operator} ${r.values.join(",")}`).join("; ")}</Td>
                      <Td className="font-mono text-xs">{Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(", ")}</Td>
                      <Td className="font-mono text-xs">{t.taints.map((x) => `${x.key}=${x.value}:${TaintEffect[x.effect]}`).join(", ")}</Td>
                      <Td>
                        <Button variant="ghost" onClick={() => setDeleting({ id: t.id, name: t.name })} aria-label={`Delete template ${t.name}`}>
                          Delete
                        </Button>
                      </Td>
                    </tr>
                  ))}
                </Table>
              )}
            </div>
            <NodeTemplateForm />
          </div>
        )}
      </QueryView>
      <ConfirmDialog
        open={!!deleting}
        title={`Delete template ${deleting?.name}?`}
        confirmLabel="Delete template"
        danger
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onCancel={() => setDeleting(null)}
      >
        New nodes can no longer be given its requirements, labels and taints. Nodes already launched with it keep them. A template a policy still uses is not deleted: remove it
        from the policy first.
      </ConfirmDialog>
    </Card>
  );
}
