import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { auth } from "@spot-optimizer/sdk";

/**
 * The signed-in session: the access token and when it expires, in memory only. The refresh
 * token never reaches scripts: the edge keeps it in an HttpOnly cookie (see the README's
 * security section), so a reload or a new tab starts by refreshing (refreshSession).
 */
export interface Session {
  accessToken: string;
  /** Milliseconds since the epoch. */
  accessExpiresAt: number;
}

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = null;

// Signing out in one tab signs out the others (their cookie is gone too).
const tabs = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("spot.session") : null;
tabs?.addEventListener("message", (event) => {
  if (event.data === "signed-out") forget();
});

export function loadSession(): Session | null {
  return current;
}

export function saveTokens(tokens: auth.Tokens | undefined): Session | null {
  if (!tokens || !tokens.accessToken) {
    clearSession();
    return null;
  }
  current = {
    accessToken: tokens.accessToken,
    accessExpiresAt: tokens.accessExpiresAt
      ? timestampDate(tokens.accessExpiresAt).getTime()
      : Date.now() + 15 * 60 * 1000,
  };
  listeners.forEach((listener) => listener(current));
  return current;
}

function forget(): void {
  current = null;
  listeners.forEach((listener) => listener(null));
}

/** Signs this tab out, and tells the other tabs. */
export function clearSession(): void {
  forget();
  tabs?.postMessage("signed-out");
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
