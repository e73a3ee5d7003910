import { NotFound } from "../components/states";

export function NotFoundPage() {
  return <NotFound title="There is no page here" backTo="/" backLabel="Back to the dashboard" />;
}
