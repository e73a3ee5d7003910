import { useState } from "react";
import { PageHeader } from "../../components/ui";
import { AccountsList } from "./AccountsList";
import { DiscoveryResults } from "./DiscoveryResults";
import { LinkAccountCard } from "./LinkAccountCard";

export function AccountsPage() {
  const [discovering, setDiscovering] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="AWS accounts" description="Link an account through a cross-account role, find the clusters in it, and adopt them." />
      <div className="grid gap-4 xl:grid-cols-2">
        <LinkAccountCard />
        <div className="space-y-4">
          <AccountsList onDiscover={setDiscovering} />
          {discovering && <DiscoveryResults accountId={discovering} />}
        </div>
      </div>
    </>
  );
}
