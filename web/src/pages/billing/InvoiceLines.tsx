import { LineKind, type Invoice } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { useClusters } from "../../components/ClusterPicker";
import { formatMoney } from "../../components/money";
import { Empty } from "../../components/states";
import { Table, Td } from "../../components/ui";
import { formatShare } from "./billingLabels";

/** An invoice's lines: each cluster's savings and the share charged, then the minimum top-up. */
export function InvoiceLines({ invoice, caption }: { invoice: Invoice; caption: string }) {
  const clusters = useClusters();
  const clusterName = (id: string) => clusters.data?.find((c) => c.id === id)?.name ?? id;
  if (invoice.lines.length === 0) return <Empty title="No lines">No cluster saved anything this period, and the plan has no minimum.</Empty>;
  return (
    <Table caption={caption} head={["Cluster", "Hours", "Savings", "Share", "Amount"]}>
      {invoice.lines.map((line, i) =>
        line.kind === LineKind.MINIMUM ? (
          <tr key={i} data-testid="invoice-line-minimum">
            <Td>{line.description || "Monthly minimum"}</Td>
            <Td>—</Td>
            <Td>—</Td>
            <Td>—</Td>
            <Td className="text-right tabular-nums">{formatMoney(line.amount)}</Td>
          </tr>
        ) : (
          <tr key={i} data-testid="invoice-line">
            <Td>
              <span className="font-medium">{clusterName(line.clusterId)}</span>
              {line.description && <span className="block text-xs text-slate-500">{line.description}</span>}
            </Td>
            <Td className="tabular-nums">{line.hours.toLocaleString()}</Td>
            <Td className="tabular-nums">{formatMoney(line.savings)}</Td>
            <Td className="tabular-nums">{formatShare(line.shareBasisPoints)}</Td>
            <Td className="text-right tabular-nums">{formatMoney(line.amount)}</Td>
          </tr>
        ),
      )}
      <tr className="font-semibold">
        <Td>Total</Td>
        <Td>{""}</Td>
        <Td className="tabular-nums">{formatMoney(invoice.savings)}</Td>
        <Td>{""}</Td>
        <Td className="text-right tabular-nums">{formatMoney(invoice.total)}</Td>
      </tr>
    </Table>
  );
}
