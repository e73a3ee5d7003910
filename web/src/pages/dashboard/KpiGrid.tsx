import { formatPercent, formatUsd, formatUsdPerHour } from "../../api/format";
import { QueryView } from "../../components/states";
import { useKpis } from "./useKpis";

function Kpi({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-1 text-xl font-semibold text-slate-900">{value}</dd>
      {detail && <dd className="text-xs text-slate-500">{detail}</dd>}
    </div>
  );
}

export function KpiGrid({ clusterId }: { clusterId: string }) {
  const query = useKpis(clusterId);
  return (
    <section aria-label="Key figures">
      <QueryView query={query} feature="The dashboard" loadingLabel="Loading key figures">
        {(kpis) => {
          const k = kpis ?? { hourlyCostUsd: 0, onDemandHourlyCostUsd: 0, savingsToDateUsd: 0, spotSharePercent: 0, nodes: 0, cpuAllocationPercent: 0, memoryAllocationPercent: 0, interruptionsHandled: 0 };
          const savingPerHour = Math.max(0, k.onDemandHourlyCostUsd - k.hourlyCostUsd);
          return (
            <dl className="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="kpis">
              <Kpi label="Hourly cost now" value={formatUsdPerHour(k.hourlyCostUsd)} detail={`${formatUsd(k.hourlyCostUsd * 730)} per month`} />
              <Kpi label="On-demand equivalent" value={formatUsdPerHour(k.onDemandHourlyCostUsd)} detail={`saving ${formatUsdPerHour(savingPerHour)} per hour`} />
              <Kpi label="Savings to date" value={formatUsd(k.savingsToDateUsd)} />
              <Kpi label="Spot share" value={formatPercent(k.spotSharePercent)} />
              <Kpi label="Nodes" value={String(k.nodes)} />
              <Kpi label="CPU allocation" value={formatPercent(k.cpuAllocationPercent)} />
              <Kpi label="Memory allocation" value={formatPercent(k.memoryAllocationPercent)} />
              <Kpi label="Interruptions handled" value={String(k.interruptionsHandled)} />
            </dl>
          );
        }}
      </QueryView>
    </section>
  );
}
