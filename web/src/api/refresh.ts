import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { auth } from "@spot-optimizer/sdk";
import { publicTransport } from "./transport";
import { clearSession, loadSession, saveTokens, type StoredSession } from "./session";

// Refresh tokens rotate and a reused one signs the whole login out, so only one refresh may be in
// flight: every caller that needs one waits for the same promise.
let inFlight: Promise<StoredSession | null> | null = null;

/** Trades the refresh token for new tokens; null (and signed out) when the login is over. */
export function refreshSession(): Promise<StoredSession | null> {
  if (inFlight) return inFlight;
  const current = loadSession();
  if (!current?.refreshToken) return Promise.resolve(null);
  inFlight = (async () => {
    try {
      const client = createClient(auth.AuthService, publicTransport());
      const response = await client.refresh({ refreshToken: current.refreshToken });
      return saveTokens(response.tokens);
    } catch (error) {
      const err = ConnectError.from(error);
      // Another tab may have rotated the token meanwhile: keep its session if it did.
      const latest = loadSession();
      if (latest && latest.refreshToken !== current.refreshToken) return latest;
      if (err.code !== Code.Unavailable && err.code !== Code.Unknown) clearSession();
      return null;
    } finally {
      inFlight = null;
    }
  })();
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
