import { create } from "@bufbuild/protobuf";
import { ScheduleSchema } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { formErrors } from "../../api/errors";
import { userTimeZone } from "../../api/format";
import { FieldErrorSummary, summaryOf } from "../../components/FieldErrorSummary";
import { TextField } from "../../components/fields";
import { Button } from "../../components/ui";
import { useCheckedForm } from "../../components/useCheckedForm";
import { checkSchedule } from "./scheduleCheck";

const INPUTS = {
  sleep_cron: { id: "schedule-sleep-cron", label: "Sleep at (cron)" },
  wake_cron: { id: "schedule-wake-cron", label: "Wake at (cron)" },
  time_zone: { id: "schedule-time-zone", label: "Schedule time zone" },
  must_run: { id: "schedule-must-run", label: "Workloads that keep running" },
};
const INPUT_KEYS = Object.keys(INPUTS) as (keyof typeof INPUTS)[];

export function ScheduleForm({ clusterId }: { clusterId: string }) {
  const queryClient = useQueryClient();
  const [sleepCron, setSleepCron] = useState("0 20 * * 1-5");
  const [wakeCron, setWakeCron] = useState("0 7 * * 1-5");
  const [timeZone, setTimeZone] = useState(userTimeZone());
  const [mustRun, setMustRun] = useState("");
  const form = useCheckedForm({ sleep_cron: sleepCron, wake_cron: wakeCron, time_zone: timeZone, must_run: mustRun }, checkSchedule);
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
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["schedules", clusterId] });
      void queryClient.invalidateQueries({ queryKey: ["transitions", clusterId] });
    },
  });
  const errors = form.errors(formErrors(save.error, "schedule", INPUT_KEYS));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (form.attempt()) save.mutate();
    else save.reset();
  };
  return (
    <form onSubmit={submit} noValidate aria-label="New schedule" className="grid gap-3 border-t border-slate-100 pt-3 md:grid-cols-2">
      <FieldErrorSummary title="The schedule was not added" items={summaryOf(errors, INPUTS)} className="md:col-span-2" />
      <TextField {...INPUTS.sleep_cron} required value={sleepCron} onChange={(e) => setSleepCron(e.target.value)} error={errors.fields.sleep_cron} hint="minute hour day month weekday" />
      <TextField {...INPUTS.wake_cron} required value={wakeCron} onChange={(e) => setWakeCron(e.target.value)} error={errors.fields.wake_cron} />
      <TextField {...INPUTS.time_zone} required value={timeZone} onChange={(e) => setTimeZone(e.target.value)} error={errors.fields.time_zone} hint="IANA name, e.g. Europe/Berlin." />
      <TextField {...INPUTS.must_run} value={mustRun} onChange={(e) => setMustRun(e.target.value)} error={errors.fields.must_run} hint="Comma-separated namespace/name." />
      <div className="md:col-span-2">
        <Button type="submit" disabled={save.isPending}>
          Add schedule
        </Button>
      </div>
    </form>
  );
}
