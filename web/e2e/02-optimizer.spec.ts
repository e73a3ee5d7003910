import { expect, test } from "@playwright/test";
import { logInAsAdmin, snap } from "./helpers";
import { findActionableRecommendation } from "./optimizerFlow";

test("open a cluster with an agent: nodes by type, zone and capacity", async ({ page }) => {
  await logInAsAdmin(page);
  await page.goto("/clusters");
  const links = page.getByRole("table", { name: "Clusters" }).getByRole("link");
  await expect(links.first()).toBeVisible();
  await links.first().click();
  await expect(page.getByRole("heading", { name: "Agent" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Nodes" })).toBeVisible();
  const nodes = page.getByRole("table", { name: "Nodes" });
  const none = page.getByText("No nodes reported");
  await expect(nodes.or(none).first()).toBeVisible();
  if (await nodes.isVisible()) {
    await page.getByLabel("Group by").selectOption("zone");
    await expect(page.getByRole("list", { name: "Nodes by zone" })).toBeVisible();
    await page.getByLabel("Group by").selectOption("capacity");
    await expect(page.getByRole("list", { name: "Nodes by capacity type" })).toBeVisible();
  }
  await snap(page, "06-cluster-detail");
});

test("apply a recommendation and watch it progress", async ({ page }) => {
  await logInAsAdmin(page);
  const cluster = await findActionableRecommendation(page);
  if (!cluster) {
    // Every cluster is already on its cheapest node set (the autopilot got there first):
    // follow the most recent plan that did something instead.
    test.info().annotations.push({ type: "note", description: "no recommendation had steps; watched the latest plan instead" });
    const plans = page.getByRole("table", { name: "Plans" }).getByRole("link");
    await expect(plans.first()).toBeVisible();
    await plans.first().click();
  } else {
    await snap(page, "07-recommendation");
    await page.getByRole("button", { name: "Apply plan" }).click();
  }
  await expect(page).toHaveURL(/\/optimizer\/plans\//);
  const progress = page.getByRole("progressbar", { name: "Plan progress" });
  await expect(progress).toBeVisible();
  await expect(page.getByTestId("plan-step").first()).toBeVisible();
  // Progress: some step finishes, or the plan reaches an end state.
  await expect
    .poll(
      async () => {
        const now = Number(await progress.getAttribute("aria-valuenow"));
        const state = (await page.getByTestId("plan-state").textContent()) ?? "";
        return now > 0 || /Succeeded|Failed|Refused/.test(state);
      },
      { timeout: 45_000 },
    )
    .toBe(true);
  await snap(page, "08-plan-progress");
});
