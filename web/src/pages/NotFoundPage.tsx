import { Link } from "react-router";
import { Empty } from "../components/states";

export function NotFoundPage() {
  return (
    <Empty title="There is no page here">
      <Link to="/" className="text-indigo-700 underline">
        Back to the dashboard
      </Link>
    </Empty>
  );
}
