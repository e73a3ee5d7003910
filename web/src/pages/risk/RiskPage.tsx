import { useState } from "react";
import { TextField } from "../../components/fields";
import { PageHeader } from "../../components/ui";
import { ExperimentsCard } from "./ExperimentsCard";
import { RiskFlagsCard } from "./RiskFlagsCard";
import { RiskScoresCard } from "./RiskScoresCard";

export function RiskPage() {
  const [region, setRegion] = useState("us-east-1");
  const [draft, setDraft] = useState(region);
  return (
    <>
      <PageHeader
        title="Risk"
        description="The hive mind: pools where any tenant saw an interruption recently are flagged, and every optimizer avoids them."
        actions={
          <form
            className="w-48"
            aria-label="Region"
            onSubmit={(e) => {
              e.preventDefault();
              if (draft.trim()) setRegion(draft.trim());
            }}
          >
            <TextField label="Region" required value={draft} onChange={(e) => setDraft(e.target.value)} onBlur={() => draft.trim() && setRegion(draft.trim())} />
          </form>
        }
      />
      <div className="grid gap-4 xl:grid-cols-2">
        <RiskFlagsCard region={region} />
        <RiskScoresCard region={region} />
      </div>
      <div className="mt-4">
        <ExperimentsCard />
      </div>
    </>
  );
}
