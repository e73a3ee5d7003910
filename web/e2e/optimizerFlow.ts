import { expect, type Page } from "@playwright/test";
import { optimizer } from "@spot-optimizer/sdk";
import type { FakeAgent, Instance } from "./fakeAgent";
import { platformApiAs, type PlatformApi } from "./platformApi";

/**
 * Opens the optimizer for a cluster and asks for recommendations until one has steps to apply
 * (the agent's first report takes a moment to arrive).
 */
export async function recommendUntilActionable(page: Page, clusterId: string) {
  await page.goto(`/optimizer?cluster=${clusterId}`);
  const apply = page.getByRole("button", { name: "Apply plan" });
  await expect
    .poll(
      async () => {
        await page.getByRole("button", { name: /Get recommendation|Recommend again/ }).click();
        await expect(page.getByTestId("recommendation").or(page.getByRole("alert")).first()).toBeVisible({ timeout: 20_000 });
        return (await apply.isVisible()) && (await apply.isEnabled());
      },
      { timeout: 30_000, intervals: [1_000, 2_000] },
    )
    .toBe(true);
  await expect(page.getByTestId("plan-step").first()).toBeVisible();
}

/**
 * Sets fields of the cluster's own policy in the policy editor (`Consolidation` is a select; the
 * rest are inputs) and saves it.
 */
export async function saveClusterPolicy(page: Page, clusterId: string, fields: { spotPercent: string; minSavingsPercent?: string; consolidation?: string }) {
  await page.goto(`/policies?cluster=${clusterId}`);
  const editor = page.getByRole("form", { name: "Policy editor" });
  await expect(editor).toBeVisible();
  await editor.getByLabel("Spot percent").fill(fields.spotPercent);
  if (fields.minSavingsPercent !== undefined) await editor.getByLabel("Consolidation min savings %").fill(fields.minSavingsPercent);
  if (fields.consolidation !== undefined) await editor.getByLabel("Consolidation", { exact: true }).selectOption({ label: fields.consolidation });
  await editor.getByRole("button", { name: "Save policy" }).click();
  await expect(editor.getByText("Policy saved.")).toBeVisible();
}

/** The instances the plan's launch steps started (each launch step lists its instance ids). */
function launchedInstances(plan: optimizer.Plan): Instance[] {
  const instances = plan.steps
    .filter((step) => step.kind === optimizer.StepKind.LAUNCH)
    .flatMap((step) =>
      step.instanceIds.map((instanceId) => ({ instanceId, instanceType: step.pool?.instanceType ?? "", zone: step.pool?.zone ?? "", capacityType: step.capacityType })),
    );
  expect(instances.length, "the launch steps name their instances").toBeGreaterThan(0);
  return instances;
}

/** The plan, once its wait for new nodes is running. */
async function planWaitingForNodes(api: PlatformApi, planId: string) {
  const { plan } = await api.optimizer.getPlan({ planId });
  const wait = plan?.steps.find((step) => step.kind === optimizer.StepKind.WAIT_READY);
  return wait?.status === optimizer.StepStatus.RUNNING ? plan : undefined;
}

/**
 * Clicks Apply on the recommendation and confirms: the dialog names the cluster (and `effects`,
 * when given, is what it says the plan will do). Lands on the applied plan's page.
 */
export async function applyRecommendation(page: Page, expected: { clusterName?: string; effects?: RegExp } = {}) {
  await page.getByRole("button", { name: "Apply plan" }).click();
  const dialog = page.getByRole("dialog", { name: /^Apply .*plan to cluster / });
  await expect(dialog).toBeVisible();
  if (expected.clusterName) await expect(dialog).toHaveAccessibleName(new RegExp(`plan to cluster ${expected.clusterName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\?$`));
  await expect(dialog).toContainText(expected.effects ?? /It will (launch|cordon|drain|terminate|run) \d+/);
  await dialog.getByRole("button", { name: "Apply", exact: true }).click();
  await expect(page).toHaveURL(/\/optimizer\/plans\//);
}

/**
 * Applies the recommendation on the page (confirming it); when the plan launches nodes and waits
 * for them, the agent reports the launched instances as Ready nodes (a plan that only removes
 * nodes has none to wait for), and the plan runs to the end: Succeeded, every step finished.
 */
export async function applyAndWatchToTheEnd(page: Page, agent: FakeAgent, expected: { clusterName?: string; effects?: RegExp } = {}) {
  await applyRecommendation(page, expected);
  const planId = page.url().split("/").pop()!;
  const api = await platformApiAs(page);
  const { plan } = await api.optimizer.getPlan({ planId });
  if (plan?.steps.some((step) => step.kind === optimizer.StepKind.LAUNCH)) {
    let waiting: optimizer.Plan | undefined;
    await expect.poll(async () => (waiting = await planWaitingForNodes(api, planId)), { timeout: 30_000, message: "the plan waits for its new nodes" }).toBeDefined();
    agent.join(launchedInstances(waiting!));
  }
  await expect(page.getByTestId("plan-state")).toContainText("Succeeded", { timeout: 45_000 });
  await expect(page.getByRole("progressbar", { name: "Plan progress" })).toHaveAttribute("aria-valuenow", "100");
  // A plan that ran cannot be applied again, and its page says so beside the disabled button.
  await expect(page.getByRole("button", { name: "Apply plan" })).toBeDisabled();
  await expect(page.getByTestId("apply-disabled-reason")).toContainText("applied and succeeded");
}
