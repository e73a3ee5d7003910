import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Page } from "@playwright/test";
import { cluster, optimizer } from "@spot-optimizer/sdk";
import { apiUrl } from "./fakeAgent";

/**
 * The platform's clients, calling as the user logged in on `page` (with the app's access token).
 * The app keeps its token in memory only: it is read from the calls the page makes on a reload.
 */
export async function platformApiAs(page: Page) {
  const [request] = await Promise.all([
    page.waitForRequest((r) => (r.headers()["authorization"] ?? "").startsWith("Bearer ")),
    page.reload(),
  ]);
  const accessToken = request.headers()["authorization"].slice("Bearer ".length);
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${accessToken}`);
    return next(request);
  };
  const transport = createGrpcTransport({ baseUrl: apiUrl, interceptors: [bearer] });
  return { clusters: createClient(cluster.ClusterService, transport), optimizer: createClient(optimizer.OptimizerService, transport) };
}

export type PlatformApi = Awaited<ReturnType<typeof platformApiAs>>;
