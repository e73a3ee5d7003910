import { CopyBlock } from "../../components/CopyButton";

/** The agent key and its install command, shown once after a cluster is registered or adopted. */
export function InstallCommand({ agentKey, command }: { agentKey: string; command: string }) {
  return (
    <div className="space-y-3">
      <p role="note" className="rounded-md bg-amber-50 p-2 text-xs text-amber-900">
        The agent key is shown only once. Copy it now; it cannot be retrieved later.
      </p>
      <CopyBlock label="Agent install command" text={command} />
      <CopyBlock label="Agent key" text={agentKey} />
    </div>
  );
}
