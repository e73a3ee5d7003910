import { lazy, Suspense, type ComponentType } from "react";
import { Route, Routes } from "react-router";
import { RequireAdmin, RequireAuth } from "./auth/RequireAuth";
import { Layout } from "./components/Layout";
import { Loading } from "./components/states";
import { LoginPage } from "./pages/LoginPage";
import { SignUpPage } from "./pages/SignUpPage";

// Each page is its own chunk: the sign-in pages load without the charts and tables.
function page<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }));
}
const DashboardPage = page(() => import("./pages/dashboard/DashboardPage"), "DashboardPage");
const ClustersPage = page(() => import("./pages/clusters/ClustersPage"), "ClustersPage");
const ClusterDetailPage = page(() => import("./pages/clusters/ClusterDetailPage"), "ClusterDetailPage");
const AccountsPage = page(() => import("./pages/accounts/AccountsPage"), "AccountsPage");
const OptimizerPage = page(() => import("./pages/optimizer/OptimizerPage"), "OptimizerPage");
const PlanPage = page(() => import("./pages/optimizer/PlanPage"), "PlanPage");
const PoliciesPage = page(() => import("./pages/policies/PoliciesPage"), "PoliciesPage");
const HibernationPage = page(() => import("./pages/hibernation/HibernationPage"), "HibernationPage");
const RiskPage = page(() => import("./pages/risk/RiskPage"), "RiskPage");
const AuditPage = page(() => import("./pages/audit/AuditPage"), "AuditPage");
const NotificationsPage = page(() => import("./pages/notifications/NotificationsPage"), "NotificationsPage");
const TeamPage = page(() => import("./pages/team/TeamPage"), "TeamPage");
const AcceptInvitePage = page(() => import("./pages/AcceptInvitePage"), "AcceptInvitePage");
const VerifyEmailPage = page(() => import("./pages/VerifyEmailPage"), "VerifyEmailPage");
const BillingPage = page(() => import("./pages/billing/BillingPage"), "BillingPage");
const AdminPage = page(() => import("./pages/admin/AdminPage"), "AdminPage");
const NotFoundPage = page(() => import("./pages/NotFoundPage"), "NotFoundPage");

export function App() {
  return (
    <Suspense fallback={<Loading label="Loading the page" />}>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/signup" element={<SignUpPage />} />
        <Route path="/invite" element={<AcceptInvitePage />} />
        <Route path="/verify-email" element={<VerifyEmailPage />} />
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
            <Route path="team" element={<TeamPage />} />
            <Route path="billing" element={<BillingPage />} />
            <Route element={<RequireAdmin />}>
              <Route path="admin" element={<AdminPage />} />
            </Route>
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Route>
      </Routes>
    </Suspense>
  );
}
