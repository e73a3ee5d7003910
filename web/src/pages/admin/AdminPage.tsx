import { PageHeader } from "../../components/ui";
import { PastDueCard } from "./PastDueCard";
import { RevenueCard } from "./RevenueCard";
import { SafeModeCard } from "./SafeModeCard";
import { SystemConfigCard } from "./SystemConfigCard";
import { SystemHealthCard } from "./SystemHealthCard";
import { TenantsCard } from "./TenantsCard";

export function AdminPage() {
  return (
    <>
      <PageHeader title="Admin" description="Platform-wide health, tenants, revenue and configuration. Visible to platform admins only." />
      <div className="grid gap-4 lg:grid-cols-2">
        <SafeModeCard />
        <SystemHealthCard />
        <SystemConfigCard />
        <TenantsCard />
        <RevenueCard />
        <PastDueCard />
      </div>
    </>
  );
}
