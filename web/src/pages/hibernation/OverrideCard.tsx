import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OverrideKind } from "@spot-optimizer/sdk/gen/spot/policy/v1/policy_pb.js";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { TextField } from "../../components/fields";
import { Button, Card } from "../../components/ui";

/** One-off overrides: wake up now for some hours, or stay asleep until a time. */
export function OverrideCard({ clusterId }: { clusterId: string }) {
  const queryClient = useQueryClient();
  const [hours, setHours] = useState("2");
  const [until, setUntil] = useState("");
  const override = useMutation({
    mutationFn: (request: { kind: OverrideKind; wakeHours?: number; sleepUntil?: Date }) =>
      api.hibernation().createOverride({
        clusterId,
        kind: request.kind,
        wakeHours: request.wakeHours ?? 0,
        sleepUntil: request.sleepUntil ? timestampFromDate(request.sleepUntil) : undefined,
      }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["transitions", clusterId] }),
  });
  const wake = (event: FormEvent) => {
    event.preventDefault();
    override.mutate({ kind: OverrideKind.WAKE_FOR, wakeHours: Math.max(1, Number(hours) || 1) });
  };
  const sleep = (event: FormEvent) => {
    event.preventDefault();
    if (until) override.mutate({ kind: OverrideKind.SLEEP_UNTIL, sleepUntil: new Date(until) });
  };
  return (
    <Card title="Overrides">
      <form onSubmit={wake} className="flex items-end gap-2" aria-label="Wake up now">
        <div className="w-24">
          <TextField label="Hours awake" type="number" min={1} value={hours} onChange={(e) => setHours(e.target.value)} />
        </div>
        <Button type="submit" disabled={override.isPending}>
          Wake up now
        </Button>
      </form>
      <form onSubmit={sleep} className="mt-3 flex items-end gap-2" aria-label="Stay asleep">
        <div className="flex-1">
          <TextField label="Stay asleep until (your time)" type="datetime-local" required value={until} onChange={(e) => setUntil(e.target.value)} />
        </div>
        <Button type="submit" variant="secondary" disabled={override.isPending}>
          Sleep
        </Button>
      </form>
      {override.isError && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {errorMessage(override.error)}
        </p>
      )}
      {override.isSuccess && (
        <p role="status" className="mt-2 text-sm text-emerald-700">
          Override saved.
        </p>
      )}
    </Card>
  );
}
