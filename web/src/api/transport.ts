import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { apiBaseUrl } from "./baseUrl";
import { freshAccessToken, refreshSession } from "./refresh";
import { loadSession } from "./session";

// grpc-web in binary format: the server (tonic) has no JSON codec.
function grpcWeb(interceptors: Interceptor[]): Transport {
  return createGrpcWebTransport({ baseUrl: apiBaseUrl(), useBinaryFormat: true, interceptors });
}

/**
 * Attaches the access token. A unary call refused as UNAUTHENTICATED refreshes the session once
 * and is retried once; streams get a token refreshed before they open (see freshAccessToken).
 */
const authInterceptor: Interceptor = (next) => async (req) => {
  const token = await freshAccessToken();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (error) {
    const err = ConnectError.from(error);
    if (err.code !== Code.Unauthenticated || req.stream || !token) throw error;
    // Another call may have refreshed meanwhile: use its token rather than rotating again.
    const stored = loadSession();
    const refreshed = stored && stored.accessToken !== token ? stored : await refreshSession();
    if (!refreshed) throw error;
    req.header.set("authorization", `Bearer ${refreshed.accessToken}`);
    return await next(req);
  }
};

let authed: Transport | null = null;
let open: Transport | null = null;

/** For every call that needs the caller's identity. */
export function authedTransport(): Transport {
  return (authed ??= grpcWeb([authInterceptor]));
}

/** For sign-up, login, refresh and logout: no token attached, no retry. */
export function publicTransport(): Transport {
  return (open ??= grpcWeb([]));
}
