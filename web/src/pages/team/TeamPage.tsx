import { PageHeader } from "../../components/ui";
import { ApiKeysCard } from "./ApiKeysCard";
import { UsersCard } from "./UsersCard";

export function TeamPage() {
  return (
    <>
      <PageHeader title="Team and API keys" description="Who can use this organization, with which role, and the keys agents and automation use." />
      <div className="space-y-4">
        <UsersCard />
        <ApiKeysCard />
      </div>
    </>
  );
}
