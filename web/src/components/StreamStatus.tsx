import type { StreamState } from "../api/useServerStream";
import { errorMessage, isUnimplemented } from "../api/errors";
import { Badge } from "./ui";

/** Whether a live view is following its stream. */
export function StreamStatus({ state }: { state: StreamState }) {
  const text = {
    connecting: "Connecting",
    live: "Live",
    reconnecting: "Reconnecting",
    unavailable: isUnimplemented(state.error) ? "Live updates not available" : "Live updates off",
    ended: "Finished",
  }[state.status];
  const tone = state.status === "live" ? "green" : state.status === "unavailable" ? "amber" : "slate";
  return (
    <span role="status" aria-live="polite" title={state.error ? errorMessage(state.error) : undefined}>
      <Badge tone={tone}>{text}</Badge>
    </span>
  );
}
