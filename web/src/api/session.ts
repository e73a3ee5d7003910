import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { auth } from "@spot-optimizer/sdk";

/** The signed-in session as kept in localStorage: both tokens and when the access token expires. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  accessExpiresAt: number;
}

const KEY = "spot.session";
type Listener = (session: StoredSession | null) => void;
const listeners = new Set<Listener>();

export function loadSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as StoredSession) : null;
  } catch {
    return null;
  }
}

export function saveTokens(tokens: auth.Tokens | undefined): StoredSession | null {
  if (!tokens || !tokens.accessToken) {
    clearSession();
    return null;
  }
  const session: StoredSession = {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessExpiresAt: tokens.accessExpiresAt
      ? timestampDate(tokens.accessExpiresAt).getTime()
      : Date.now() + 15 * 60 * 1000,
  };
  localStorage.setItem(KEY, JSON.stringify(session));
  listeners.forEach((listener) => listener(session));
  return session;
}

export function clearSession(): void {
  localStorage.removeItem(KEY);
  listeners.forEach((listener) => listener(null));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Another tab signed in, refreshed or signed out: follow it.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key === KEY || event.key === null) {
      const session = loadSession();
      listeners.forEach((listener) => listener(session));
    }
  });
}
