import type { Schedule } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { useClusters } from "../../components/ClusterPicker";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { ScheduleForm } from "./ScheduleForm";

export function SchedulesCard({ clusterId }: { clusterId: string }) {
  const queryClient = useQueryClient();
  const clusters = useClusters();
  const clusterName = clusters.data?.find((c) => c.id === clusterId)?.name ?? clusterId;
  const [deleting, setDeleting] = useState<Schedule | null>(null);
  const schedules = useQuery({
    queryKey: ["schedules", clusterId],
    queryFn: async () => (await api.hibernation().listSchedules({ clusterId })).schedules,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.hibernation().deleteSchedule({ id }),
    onSettled: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ["schedules", clusterId] });
      void queryClient.invalidateQueries({ queryKey: ["transitions", clusterId] });
    },
  });
  return (
    <Card title="Schedules">
      <QueryView query={schedules} feature="Hibernation">
        {(list) => (
          <div className="space-y-4">
            {remove.isError && (
              <p role="alert" className="text-sm text-red-700">
                {errorMessage(remove.error)}
              </p>
            )}
            {list.length === 0 ? (
              <Empty title="No schedules">This cluster runs around the clock. Add a schedule to let it sleep.</Empty>
            ) : (
              <Table caption="Hibernation schedules" head={["Sleep", "Wake", "Time zone", "Keeps running", ""]}>
                {list.map((s) => (
                  <tr key={s.id}>
                    <Td className="font-mono text-xs">{s.sleepCron}</Td>
                    <Td className="font-mono text-xs">{s.wakeCron}</Td>
                    <Td>{s.timeZone}</Td>
                    <Td className="text-xs">{s.mustRun.join(", ") || "—"}</Td>
                    <Td>
                      <Button variant="ghost" onClick={() => setDeleting(s)} aria-label={`Delete schedule ${s.sleepCron} to ${s.wakeCron}`}>
                        Delete
                      </Button>
                    </Td>
                  </tr>
                ))}
              </Table>
            )}
            <ScheduleForm clusterId={clusterId} />
          </div>
        )}
      </QueryView>
      <ConfirmDialog
        open={!!deleting}
        title={`Delete schedule ${deleting?.sleepCron} to ${deleting?.wakeCron}?`}
        confirmLabel="Delete schedule"
        danger
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        onCancel={() => setDeleting(null)}
      >
        Cluster {clusterName} no longer hibernates at {deleting?.sleepCron} or wakes at {deleting?.wakeCron} ({deleting?.timeZone}) on this schedule. Its other schedules and
        overrides stay.
      </ConfirmDialog>
    </Card>
  );
}
