import type { Invoice } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api } from "../../api/clients";
import { formatTime, toDate } from "../../api/format";
import { formatMoney } from "../../components/money";
import { Empty, QueryView } from "../../components/states";
import { Button, Card, Table, Td } from "../../components/ui";
import { formatPeriod, InvoiceStatusBadge } from "./billingLabels";
import { InvoiceLines } from "./InvoiceLines";

const COLUMNS = ["Period", "Status", "Savings", "Total", "Closed", "Paid", <span key="lines" className="sr-only">Lines</span>];

function InvoiceRow({ invoice }: { invoice: Invoice }) {
  const [open, setOpen] = useState(false);
  const period = formatPeriod(invoice.periodStart);
  const linesId = `invoice-lines-${invoice.id}`;
  return (
    <Fragment>
      <tr data-testid="invoice">
        <Td className="font-medium">{period}</Td>
        <Td>
          <InvoiceStatusBadge status={invoice.status} />
        </Td>
        <Td className="tabular-nums">{formatMoney(invoice.savings)}</Td>
        <Td className="tabular-nums">{formatMoney(invoice.total)}</Td>
        <Td>{formatTime(invoice.closedAt)}</Td>
        <Td>{toDate(invoice.paidAt) ? formatTime(invoice.paidAt) : "—"}</Td>
        <Td>
          <Button variant="ghost" aria-expanded={open} aria-controls={open ? linesId : undefined} onClick={() => setOpen((o) => !o)}>
            {open ? "Hide lines" : "Show lines"}
            <span className="sr-only"> of {period}</span>
          </Button>
        </Td>
      </tr>
      {open && (
        <tr id={linesId}>
          <td colSpan={COLUMNS.length} className="bg-slate-50 px-2 py-2">
            <InvoiceLines invoice={invoice} caption={`Lines of the ${period} invoice`} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** The closed periods' invoices, newest first, each with its lines on demand. */
export function InvoicesCard() {
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens[tokens.length - 1];
  const invoices = useQuery({
    queryKey: ["billing-invoices", pageToken],
    queryFn: () => api.billing().listInvoices({ pageSize: 12, pageToken }),
    placeholderData: keepPreviousData,
  });
  const next = invoices.data?.nextPageToken;
  return (
    <Card
      title="Invoice history"
      actions={
        (tokens.length > 1 || next) && (
          <nav aria-label="Invoice pages" className="flex gap-1">
            <Button variant="secondary" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
              Newer
            </Button>
            <Button variant="secondary" disabled={!next} onClick={() => next && setTokens([...tokens, next])}>
              Older
            </Button>
          </nav>
        )
      }
    >
      <QueryView
        query={invoices}
        feature="Invoices"
        loadingLabel="Loading the invoices"
        isEmpty={(r) => r.invoices.length === 0}
        empty={<Empty title="No invoices yet">An invoice is issued when a month (UTC) ends.</Empty>}
      >
        {(r) => (
          <Table caption="Invoice history" head={COLUMNS}>
            {r.invoices.map((invoice) => (
              <InvoiceRow key={invoice.id} invoice={invoice} />
            ))}
          </Table>
        )}
      </QueryView>
    </Card>
  );
}
