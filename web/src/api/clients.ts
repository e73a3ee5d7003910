import { createClient } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { auth, billing, cluster, optimizer, policy, risk } from "@spot-optimizer/sdk";
import { authedTransport } from "./transport";

const cache = new Map<DescService, unknown>();

function client<T extends DescService>(service: T) {
  let found = cache.get(service) as ReturnType<typeof createClient<T>> | undefined;
  if (!found) {
    found = createClient(service, authedTransport());
    cache.set(service, found);
  }
  return found;
}

/** One client per service, all on the authenticated transport. */
export const api = {
  auth: () => client(auth.AuthService),
  users: () => client(auth.UserService),
  apiKeys: () => client(auth.ApiKeyService),
  audit: () => client(auth.AuditService),
  notifications: () => client(auth.NotificationService),
  admin: () => client(auth.AdminService),
  clusters: () => client(cluster.ClusterService),
  accounts: () => client(cluster.AccountService),
  catalog: () => client(cluster.CatalogService),
  nodeClasses: () => client(cluster.NodeClassService),
  optimizer: () => client(optimizer.OptimizerService),
  dashboard: () => client(optimizer.DashboardService),
  policy: () => client(policy.PolicyService),
  templates: () => client(policy.NodeTemplateService),
  hibernation: () => client(policy.HibernationService),
  risk: () => client(risk.RiskService),
  experiments: () => client(risk.ExperimentService),
  billing: () => client(billing.BillingService),
  billingAdmin: () => client(billing.BillingAdminService),
};
