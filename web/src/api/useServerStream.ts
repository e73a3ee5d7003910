import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "react";
import { refreshSession } from "./refresh";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "unavailable" | "ended";

export interface StreamState {
  status: StreamStatus;
  /** The last error, for the unavailable state. */
  error: ConnectError | null;
}

// Errors a reconnect cannot fix: the feature is missing, or the caller may not see it.
const FINAL = new Set([Code.Unimplemented, Code.PermissionDenied, Code.NotFound, Code.InvalidArgument]);

/**
 * Follows a server stream while the component is mounted: each message goes to onMessage; a
 * dropped stream reconnects with backoff (refreshing the session on UNAUTHENTICATED).
 * `open` is called again whenever a value in `deps` changes; `enabled` false keeps it closed.
 */
export function useServerStream<T>(
  open: (options: { signal: AbortSignal; onHeader: () => void }) => AsyncIterable<T>,
  onMessage: (message: T) => void,
  deps: unknown[],
  enabled = true,
): StreamState {
  const [state, setState] = useState<StreamState>({ status: "connecting", error: null });
  const handler = useRef(onMessage);
  handler.current = onMessage;

  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    let attempt = 0;
    (async () => {
      while (!controller.signal.aborted) {
        setState((s) => ({ status: attempt === 0 ? "connecting" : "reconnecting", error: s.error }));
        try {
          // Live as soon as the server answers with headers, before any message.
          const onHeader = () => {
            attempt = 0;
            setState({ status: "live", error: null });
          };
          for await (const message of open({ signal: controller.signal, onHeader })) {
            attempt = 0;
            setState({ status: "live", error: null });
            handler.current(message);
          }
          // The server closed the stream cleanly (e.g. a plan finished).
          if (!controller.signal.aborted) setState({ status: "ended", error: null });
          return;
        } catch (error) {
          if (controller.signal.aborted) return;
          const err = ConnectError.from(error);
          if (FINAL.has(err.code)) {
            setState({ status: "unavailable", error: err });
            return;
          }
          if (err.code === Code.Unauthenticated && !(await refreshSession())) {
            setState({ status: "unavailable", error: err });
            return;
          }
          setState({ status: "reconnecting", error: err });
          attempt += 1;
          const delay = Math.min(15_000, 500 * 2 ** Math.min(attempt, 5));
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    })();
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, ...deps]);

  return state;
}
