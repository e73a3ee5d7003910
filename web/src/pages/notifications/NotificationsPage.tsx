import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { CheckboxField } from "../../components/fields";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card, PageHeader } from "../../components/ui";

export function NotificationsPage() {
  const queryClient = useQueryClient();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [tokens, setTokens] = useState<string[]>([""]);
  const pageToken = tokens[tokens.length - 1];
  const query = useQuery({
    queryKey: ["notifications", unreadOnly, pageToken],
    queryFn: () => api.notifications().listNotifications({ unreadOnly, page: { pageSize: 25, pageToken } }),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
  const markRead = useMutation({
    mutationFn: (notificationId: string) => api.notifications().markNotificationRead({ notificationId }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["notifications"] }),
  });
  const next = query.data?.page?.nextPageToken;
  return (
    <>
      <PageHeader
        title="Notifications"
        description="Interruptions, failed actions and payment problems."
        actions={
          <CheckboxField
            label="Unread only"
            checked={unreadOnly}
            onChange={(e) => {
              setUnreadOnly(e.target.checked);
              setTokens([""]);
            }}
          />
        }
      />
      <Card>
        {markRead.isError && (
          <p role="alert" className="mb-2 text-sm text-red-700">
            {errorMessage(markRead.error)}
          </p>
        )}
        <QueryView
          query={query}
          feature="Notifications"
          isEmpty={(r) => r.notifications.length === 0}
          empty={<Empty title={unreadOnly ? "Nothing unread" : "No notifications"}>You are told here when something needs your attention.</Empty>}
        >
          {(r) => (
            <ul className="divide-y divide-slate-100">
              {r.notifications.map((n) => (
                <li key={n.id} className={`flex items-start gap-3 py-2 ${n.read ? "opacity-70" : ""}`}>
                  <Badge tone={n.kind === "interruption" ? "amber" : n.kind === "action_failed" || n.kind === "payment_problem" ? "red" : "slate"}>{n.kind}</Badge>
                  <div className="min-w-0 flex-1">
                    <p className="text-sm font-medium">{n.title}</p>
                    <p className="text-sm text-slate-600">{n.body}</p>
                    <p className="text-xs text-slate-400">{formatTime(n.at)}</p>
                  </div>
                  {!n.read && (
                    <Button variant="secondary" onClick={() => markRead.mutate(n.id)} aria-label={`Mark "${n.title}" as read`}>
                      Mark read
                    </Button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </QueryView>
        <nav aria-label="Notification pages" className="mt-3 flex justify-end gap-2">
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
