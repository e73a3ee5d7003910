import { Empty, QueryView } from "../../components/states";
import { Card } from "../../components/ui";
import { InvoiceLines } from "./InvoiceLines";
import { usePreview } from "./useBilling";

/** The open period's invoice, line by line, as it would be if the period closed now. */
export function PreviewLinesCard() {
  const preview = usePreview();
  return (
    <Card title="Invoice preview">
      <QueryView query={preview} feature="Billing" loadingLabel="Loading the preview" isEmpty={(invoice) => !invoice} empty={<Empty title="No open period" />}>
        {(invoice) => invoice && <InvoiceLines invoice={invoice} caption="Invoice preview lines" />}
      </QueryView>
    </Card>
  );
}
