import { Route, Routes } from "react-router";
import { RequireAdmin, RequireAuth } from "./auth/RequireAuth";
import { Layout } from "./components/Layout";
import { AccountsPage } from "./pages/accounts/AccountsPage";
import { AdminPage } from "./pages/admin/AdminPage";
import { AuditPage } from "./pages/audit/AuditPage";
import { LoginPage } from "./pages/LoginPage";
import { SignUpPage } from "./pages/SignUpPage";
import { ClusterDetailPage } from "./pages/clusters/ClusterDetailPage";
import { ClustersPage } from "./pages/clusters/ClustersPage";
import { DashboardPage } from "./pages/dashboard/DashboardPage";
import { HibernationPage } from "./pages/hibernation/HibernationPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { NotificationsPage } from "./pages/notifications/NotificationsPage";
import { OptimizerPage } from "./pages/optimizer/OptimizerPage";
import { PlanPage } from "./pages/optimizer/PlanPage";
import { PoliciesPage } from "./pages/policies/PoliciesPage";
import { RiskPage } from "./pages/risk/RiskPage";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignUpPage />} />
      <Route element={<RequireAuth />}>
        <Route element={<Layout />}>
          <Route index element={<DashboardPage />} />
          <Route path="clusters" element={<ClustersPage />} />
          <Route path="clusters/:clusterId" element={<ClusterDetailPage />} />
          <Route path="accounts" element={<AccountsPage />} />
          <Route path="optimizer" element={<OptimizerPage />} />
          <Route path="optimizer/plans/:planId" element={<PlanPage />} />
          <Route path="policies" element={<PoliciesPage />} />
          <Route path="hibernation" element={<HibernationPage />} />
          <Route path="risk" element={<RiskPage />} />
          <Route path="audit" element={<AuditPage />} />
          <Route path="notifications" element={<NotificationsPage />} />
          <Route element={<RequireAdmin />}>
            <Route path="admin" element={<AdminPage />} />
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
