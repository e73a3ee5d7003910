import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { auth } from "@spot-optimizer/sdk";
import { publicTransport } from "./transport";
import { clearSession, loadSession, saveTokens, type Session } from "./session";

// Refresh tokens rotate and a reused one signs the whole login out, so only one refresh may be in
// flight: every caller in this tab waits for the same promise, and tabs take turns through a Web
// Lock (the cookie they share has rotated by the time the next one sends it).
let inFlight: Promise<Session | null> | null = null;

async function exchangeCookie(): Promise<Session | null> {
  const before = loadSession();
  const run = async () => {
    // The edge puts the HttpOnly cookie's refresh token into this empty request.
    const response = await createClient(auth.AuthService, publicTransport()).refresh({});
    return saveTokens(response.tokens);
  };
  try {
    return navigator.locks ? await navigator.locks.request("spot.refresh", run) : await run();
  } catch (error) {
    const err = ConnectError.from(error);
    // Unreachable: keep what we have (at start, say so). Refused (no cookie, expired, revoked):
    // signed out.
    if (err.code === Code.Unavailable || err.code === Code.Unknown) {
      if (!before) throw error;
      return before;
    }
    clearSession();
    return null;
  }
}

/** Trades the refresh cookie for a new access token; null (and signed out) when the login is over. */
export function refreshSession(): Promise<Session | null> {
  inFlight ??= exchangeCookie().finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** A usable access token: refreshed first when it expires within half a minute. */
export async function freshAccessToken(): Promise<string | null> {
  const session = loadSession();
  if (!session) return null;
  if (session.accessExpiresAt - Date.now() > 30_000) return session.accessToken;
  const refreshed = await refreshSession();
  return refreshed?.accessToken ?? null;
}
