import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Page } from "@playwright/test";
import { cluster, optimizer } from "@spot-optimizer/sdk";
import { apiUrl } from "./fakeAgent";

/** The platform's clients, calling as the user logged in on `page` (with the app's access token). */
export async function platformApiAs(page: Page) {
  const accessToken: string = await page.evaluate(() => JSON.parse(localStorage.getItem("spot.session") ?? "{}").accessToken ?? "");
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${accessToken}`);
    return next(request);
  };
  const transport = createGrpcTransport({ baseUrl: apiUrl, interceptors: [bearer] });
  return { clusters: createClient(cluster.ClusterService, transport), optimizer: createClient(optimizer.OptimizerService, transport) };
}

export type PlatformApi = Awaited<ReturnType<typeof platformApiAs>>;
