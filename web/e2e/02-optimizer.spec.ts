import { expect, test } from "@playwright/test";
import { CapacityType } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";
import { FakeAgent, onlyPendingPods } from "./fakeAgent";
import { logInAsAdmin, registerCluster, snap } from "./helpers";
import { applyAndWatchToTheEnd, recommendUntilActionable, saveClusterPolicy } from "./optimizerFlow";

// One cluster, all its nodes launched by plans in the simulated cloud (a node the cloud never
// launched could not be terminated): first on-demand capacity for its pending pods, then a move to
// spot that retires those nodes.
test.describe.configure({ mode: "serial" });

let cluster: { clusterId: string; name: string; agent: FakeAgent } | null = null;
test.afterAll(() => cluster?.agent.stop());

test("a new cluster's pending pods get on-demand nodes: the plan runs to Succeeded", async ({ page }) => {
  await logInAsAdmin(page);
  const name = `e2e-${Date.now().toString(36)}`;
  const { clusterId, agentKey } = await registerCluster(page, name);
  // The policy comes first, so the agent's first report is planned under it: on-demand only, and
  // consolidation off so that only the plans this test applies run. Pods waiting for a node get a
  // plan although it saves nothing (the minimum saving only stops churn).
  await saveClusterPolicy(page, clusterId, { spotPercent: "0", consolidation: "Off" });
  const agent = new FakeAgent(agentKey, onlyPendingPods());
  await agent.welcomed;
  cluster = { clusterId, name, agent };
  await recommendUntilActionable(page, cluster.clusterId);
  // Applying asks first, naming the cluster and what the plan does: new nodes for the pending pods.
  await applyAndWatchToTheEnd(page, cluster.agent, { clusterName: name, effects: /It will launch \d+ nodes? in cluster / });
  await snap(page, "06-plan-launch-succeeded");
});

test("open the cluster: nodes by type, zone and capacity, pods", async ({ page }) => {
  test.skip(!cluster, "needs the cluster of the previous test");
  const [first] = cluster!.agent.nodes;
  await logInAsAdmin(page);
  await page.goto("/clusters");
  await page.getByRole("link", { name: cluster!.name }).first().click();
  await expect(page.getByRole("heading", { name: cluster!.name, level: 1 })).toBeVisible();
  await expect(page.getByText("Connected", { exact: true })).toBeVisible();
  const nodes = page.getByRole("table", { name: "Nodes" });
  await expect(nodes.getByText(first.name)).toBeVisible();
  await expect(page.getByRole("list", { name: "Nodes by instance type" })).toContainText(first.instanceType);
  await page.getByLabel("Group by").selectOption("zone");
  await expect(page.getByRole("list", { name: "Nodes by zone" })).toContainText(first.zone);
  await page.getByLabel("Group by").selectOption("capacity");
  await expect(page.getByRole("list", { name: "Nodes by capacity type" })).toContainText("On demand");
  await expect(page.getByRole("table", { name: "Pods" })).toContainText("web-0");
  await snap(page, "07-cluster-detail");
});

test("allow spot: apply the recommendation and watch it retire on-demand nodes to Succeeded", async ({ page }) => {
  test.skip(!cluster, "needs the cluster of the previous tests");
  const onDemand = cluster!.agent.nodes.filter((node) => node.capacityType === CapacityType.ON_DEMAND);
  await logInAsAdmin(page);
  await saveClusterPolicy(page, cluster!.clusterId, { spotPercent: "100" });
  await recommendUntilActionable(page, cluster!.clusterId);
  await expect(page.getByLabel("Plan savings")).toContainText("Saving per month");
  await snap(page, "08-recommendation");
  await applyAndWatchToTheEnd(page, cluster!.agent, { clusterName: cluster!.name });
  // The plan moves pods onto spot capacity or onto the nodes that stay (whichever saves more);
  // either way on-demand nodes are retired, each only after its drain succeeded.
  const steps = page.getByTestId("plan-step");
  let terminated = 0;
  for (const node of onDemand) {
    const step = steps.filter({ hasText: `Terminate ${node.name}` });
    if ((await step.count()) > 0) {
      await expect(step).toContainText("Succeeded");
      terminated += 1;
    }
  }
  expect(terminated, "on-demand nodes retired").toBeGreaterThan(0);
  await snap(page, "09-plan-succeeded");
});
