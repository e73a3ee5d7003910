import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { formatTime } from "../../api/format";
import { TextField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card, PageHeader, Table, Td } from "../../components/ui";
import { actorLabel } from "./actorLabel";

interface Filters {
  actionPrefix: string;
  target: string;
  since: string;
  until: string;
}
const EMPTY: Filters = { actionPrefix: "", target: "", since: "", until: "" };
const PAGE = 25;

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens[tokens.length - 1];
  const query = useQuery({
    queryKey: ["audit", filters, pageToken],
    queryFn: () =>
      api.audit().listAuditEvents({
        page: { pageSize: PAGE, pageToken },
        actionPrefix: filters.actionPrefix,
        target: filters.target,
        since: filters.since ? timestampFromDate(new Date(filters.since)) : undefined,
        until: filters.until ? timestampFromDate(new Date(filters.until)) : undefined,
      }),
    placeholderData: keepPreviousData,
  });
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setTokens([""]);
  };
  const next = query.data?.page?.nextPageToken;
  return (
    <>
      <PageHeader title="Audit log" description="Every change and every action executed: who, what, when, and the result." />
      <Card>
        <form onSubmit={apply} className="mb-4 grid items-end gap-3 md:grid-cols-5" aria-label="Audit filters">
          <TextField label="Action starts with" placeholder="spot.policy.v1." value={draft.actionPrefix} onChange={(e) => setDraft({ ...draft, actionPrefix: e.target.value })} />
          <TextField label="Target" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} />
          <TextField label="Since" type="datetime-local" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} />
          <TextField label="Until" type="datetime-local" value={draft.until} onChange={(e) => setDraft({ ...draft, until: e.target.value })} />
          <div className="flex gap-2">
            <Button type="submit">Filter</Button>
            <Button
              variant="secondary"
              onClick={() => {
                setDraft(EMPTY);
                setFilters(EMPTY);
                setTokens([""]);
              }}
            >
              Clear
            </Button>
          </div>
        </form>
        <QueryView
          query={query}
          feature="The audit log"
          isEmpty={(r) => r.events.length === 0}
          empty={<Empty title="No audit events match">Change the filters, or make a change to see it recorded.</Empty>}
        >
          {(r) => (
            <Table caption="Audit events" head={["When", "Who", "Action", "Target", "Result"]}>
              {r.events.map((e) => (
                <tr key={e.id}>
                  <Td className="whitespace-nowrap text-xs">{formatTime(e.at)}</Td>
                  <Td className="max-w-48 text-xs break-words">{actorLabel(e.actor)}</Td>
                  <Td className="font-mono text-xs break-all">{e.action}</Td>
                  <Td className="font-mono text-xs break-all">{e.target || "—"}</Td>
                  <Td className="min-w-48 max-w-sm">{e.result === "ok" ? <Badge tone="green">ok</Badge> : <span className="text-xs text-red-700">{e.result}</span>}</Td>
                </tr>
              ))}
            </Table>
          )}
        </QueryView>
        <nav aria-label="Audit pages" className="mt-3 flex items-center justify-end gap-2 text-sm">
          <span className="text-slate-500">Page {tokens.length}</span>
          <Button variant="secondary" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous page
          </Button>
          <Button variant="secondary" disabled={!next} onClick={() => next && setTokens([...tokens, next])}>
            Next page
          </Button>
        </nav>
      </Card>
    </>
  );
}
