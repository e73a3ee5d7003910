import { useState } from "react";
import { TextField } from "../../components/fields";
import { PageHeader } from "../../components/ui";
import { ExperimentsCard } from "./ExperimentsCard";
import { RiskFlagsCard } from "./RiskFlagsCard";
import { RiskScoresCard } from "./RiskScoresCard";

export function RiskPage() {
  const [region, setRegion] = useState("");
  return (
    <>
      <PageHeader
        title="Risk"
        description="The hive mind: pools where any tenant saw an interruption recently are flagged, and every optimizer avoids them."
        actions={
          <div className="w-48">
            <TextField label="Region filter" placeholder="all regions" value={region} onChange={(e) => setRegion(e.target.value.trim())} />
          </div>
        }
      />
      <div className="grid gap-4 xl:grid-cols-2">
        <RiskFlagsCard region={region} />
        <RiskScoresCard region={region || "us-east-1"} />
      </div>
      <div className="mt-4">
        <ExperimentsCard />
      </div>
    </>
  );
}
