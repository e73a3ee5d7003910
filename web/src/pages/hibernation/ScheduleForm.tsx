import { create } from "@bufbuild/protobuf";
import { ScheduleSchema } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { userTimeZone } from "../../api/format";
import { TextField } from "../../components/fields";
import { Button } from "../../components/ui";

export function ScheduleForm({ clusterId }: { clusterId: string }) {
  const queryClient = useQueryClient();
  const [sleepCron, setSleepCron] = useState("0 20 * * 1-5");
  const [wakeCron, setWakeCron] = useState("0 7 * * 1-5");
  const [timeZone, setTimeZone] = useState(userTimeZone());
  const [mustRun, setMustRun] = useState("");
  const save = useMutation({
    mutationFn: () =>
      api.hibernation().createSchedule({
        schedule: create(ScheduleSchema, {
          clusterId,
          sleepCron,
          wakeCron,
          timeZone,
          mustRun: mustRun.split(",").map((s) => s.trim()).filter(Boolean),
        }),
      }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["schedules", clusterId] });
      void queryClient.invalidateQueries({ queryKey: ["transitions", clusterId] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="New schedule" className="grid gap-3 border-t border-slate-100 pt-3 md:grid-cols-2">
      <TextField label="Sleep at (cron)" required value={sleepCron} onChange={(e) => setSleepCron(e.target.value)} hint="minute hour day month weekday" />
      <TextField label="Wake at (cron)" required value={wakeCron} onChange={(e) => setWakeCron(e.target.value)} />
      <TextField label="Schedule time zone" required value={timeZone} onChange={(e) => setTimeZone(e.target.value)} hint="IANA name, e.g. Europe/Berlin." />
      <TextField label="Workloads that keep running" value={mustRun} onChange={(e) => setMustRun(e.target.value)} hint="Comma-separated namespace/name." />
      <div className="md:col-span-2">
        {save.isError && (
          <p role="alert" className="mb-2 text-sm text-red-700">
            {errorMessage(save.error)}
          </p>
        )}
        <Button type="submit" disabled={save.isPending}>
          Add schedule
        </Button>
      </div>
    </form>
  );
}
