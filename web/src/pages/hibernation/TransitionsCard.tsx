import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { formatRelative, toDate, userTimeZone } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card } from "../../components/ui";

/** Whether the cluster is asleep now, and its next sleeps and wakes in the viewer's time zone. */
export function TransitionsCard({ clusterId }: { clusterId: string }) {
  const zone = userTimeZone();
  const transitions = useQuery({
    queryKey: ["transitions", clusterId],
    queryFn: () => api.hibernation().listTransitions({ clusterId, count: 10 }),
    refetchInterval: 60_000,
  });
  return (
    <Card title="Next transitions">
      <p className="mb-2 text-xs text-slate-500">Times in your time zone ({zone}).</p>
      <QueryView query={transitions} feature="Hibernation">
        {({ transitions: list, asleep }) => (
          <div className="space-y-2">
            <p className="text-sm" data-testid="hibernation-state">
              Now: {asleep ? <Badge tone="slate">Asleep</Badge> : <Badge tone="green">Awake</Badge>}
            </p>
            {list.length === 0 ? (
              <Empty title="Nothing scheduled" />
            ) : (
              <ol className="space-y-1 text-sm">
                {list.map((t, i) => {
                  const at = toDate(t.at);
                  return (
                    <li key={i} className="flex items-center gap-2">
                      <Badge tone={t.kind === "wake" ? "green" : "slate"}>{t.kind === "wake" ? "Wake" : "Hibernate"}</Badge>
                      <time dateTime={at?.toISOString()}>
                        {at?.toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone, timeZoneName: "short" })}
                      </time>
                      <span className="text-xs text-slate-500">{formatRelative(t.at)}</span>
                    </li>
                  );
                })}
              </ol>
            )}
          </div>
        )}
      </QueryView>
    </Card>
  );
}
