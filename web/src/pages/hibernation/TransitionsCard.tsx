import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/clients";
import { formatRelative, toDate, userTimeZone } from "../../api/format";
import { Empty, QueryView } from "../../components/states";
import { Badge, Card } from "../../components/ui";

/** The next sleeps and wakes, in the viewer's own time zone. */
export function TransitionsCard({ clusterId }: { clusterId: string }) {
  const zone = userTimeZone();
  const transitions = useQuery({
    queryKey: ["transitions", clusterId],
    queryFn: async () => (await api.hibernation().listTransitions({ clusterId, count: 10 })).transitions,
    refetchInterval: 60_000,
  });
  return (
    <Card title="Next transitions">
      <p className="mb-2 text-xs text-slate-500">Times in your time zone ({zone}).</p>
      <QueryView
        query={transitions}
        feature="Hibernation"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="Nothing scheduled" />}
      >
        {(list) => (
          <ol className="space-y-1 text-sm">
            {list.map((t, i) => (
              <li key={i} className="flex items-center gap-2">
                <Badge tone={t.kind === "wake" ? "green" : "slate"}>{t.kind === "wake" ? "Wake" : "Hibernate"}</Badge>
                <time dateTime={toDate(t.at)?.toISOString()}>
                  {toDate(t.at)?.toLocaleString(undefined, { weekday: "short", dateStyle: undefined, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone, timeZoneName: "short" })}
                </time>
                <span className="text-xs text-slate-500">{formatRelative(t.at)}</span>
              </li>
            ))}
          </ol>
        )}
      </QueryView>
    </Card>
  );
}
