import { useState } from "react";
import { errorMessage } from "../../api/errors";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { QueryView } from "../../components/states";
import { Badge, Button, Card } from "../../components/ui";
import { useSystemConfig, useUpdateSystemConfig } from "./useSystemConfig";

/** The platform-wide brake: in safe mode nothing leaves the platform. */
export function SafeModeCard() {
  const config = useSystemConfig();
  const update = useUpdateSystemConfig();
  const [confirming, setConfirming] = useState(false);
  return (
    <Card title="Safe mode">
      <QueryView query={config} feature="System config">
        {(current) => {
          const on = !!current?.safeMode;
          return (
            <div className="space-y-3">
              <p className="text-sm" data-testid="safe-mode-state">
                Safe mode is {on ? <Badge tone="red">On</Badge> : <Badge tone="green">Off</Badge>}
              </p>
              <p className="text-sm text-slate-600">
                While safe mode is on, every mutating action platform-wide is refused and recorded: no launches, terminations, drains or cordons, for every tenant.
              </p>
              <Button variant={on ? "primary" : "danger"} role="switch" aria-checked={on} aria-label="Safe mode" onClick={() => setConfirming(true)}>
                {on ? "Turn safe mode off" : "Turn safe mode on"}
              </Button>
              {update.isError && (
                <p role="alert" className="text-sm text-red-700">
                  {errorMessage(update.error)}
                </p>
              )}
              <ConfirmDialog
                open={confirming}
                title={on ? "Turn safe mode off?" : "Turn safe mode on?"}
                confirmLabel={on ? "Turn off" : "Turn on"}
                danger={!on}
                busy={update.isPending}
                onCancel={() => setConfirming(false)}
                onConfirm={() =>
                  update.mutate({ safeMode: !on }, { onSettled: () => setConfirming(false) })
                }
              >
                {on
                  ? "Optimizers, the autopilot and operators will be able to change clusters again, for every tenant."
                  : "Every change that would leave the platform will be refused for every tenant until safe mode is turned off. Plans being applied stop at their next step."}
              </ConfirmDialog>
            </div>
          );
        }}
      </QueryView>
    </Card>
  );
}
