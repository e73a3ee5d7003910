import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../api/clients";

/** Unread notification count in the top bar; silent when notifications are unavailable. */
export function NotificationBell() {
  const query = useQuery({
    queryKey: ["notifications", "unread-count"],
    queryFn: () => api.notifications().listNotifications({ unreadOnly: true, page: { pageSize: 1 } }),
    refetchInterval: 30_000,
    retry: false,
  });
  const unread = query.data?.unreadCount ?? 0;
  return (
    <Link to="/notifications" className="rounded-md px-2 py-1 text-sm text-slate-600 hover:bg-slate-100" aria-label={`Notifications, ${unread} unread`}>
      Notifications{" "}
      {unread > 0 && <span className="ml-1 rounded-full bg-red-600 px-1.5 text-xs font-semibold text-white">{unread}</span>}
    </Link>
  );
}
