import { expect, test } from "@playwright/test";
import { logIn, snap } from "./helpers";

// With `spot demo`, its tenant's three clusters move to spot on their own: the dashboard shows
// savings within a minute. Runs when the demo login is given.
const demo = { email: process.env.SPOT_E2E_DEMO_EMAIL ?? "", password: process.env.SPOT_E2E_DEMO_PASSWORD ?? "" };

test("the demo tenant's dashboard shows savings", async ({ page }) => {
  test.skip(!demo.email || !demo.password, "SPOT_E2E_DEMO_EMAIL and SPOT_E2E_DEMO_PASSWORD are not set");
  test.setTimeout(120_000);
  await logIn(page, demo.email, demo.password);
  const kpis = page.getByTestId("kpis");
  await expect(kpis).toBeVisible();
  // The KPIs refresh every 5 s: wait until spot carries part of the load and the saving shows.
  const figure = async (label: string) => Number(((await kpis.getByText(label).locator("..").locator("dd").first().textContent()) ?? "").replace(/[^0-9.]/g, ""));
  await expect.poll(() => figure("Spot share"), { timeout: 90_000 }).toBeGreaterThan(0);
  await expect.poll(async () => (await figure("On-demand equivalent")) - (await figure("Hourly cost now")), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect(page.getByRole("img", { name: /Cost per hour against the on-demand equivalent/ })).toBeVisible();
  await page.goto("/clusters");
  await expect(page.getByRole("table", { name: "Clusters" }).getByRole("link")).toHaveCount(3);
  await page.goto("/");
  await expect(page.getByRole("img", { name: /Cost per hour against the on-demand equivalent/ })).toBeVisible();
  await expect(page.getByRole("list", { name: "Recent cluster events" })).toBeVisible();
  await snap(page, "12-demo-dashboard");
});

test("a demo cluster's actions read as sentences: a verb, the node, its type and zone", async ({ page }) => {
  test.skip(!demo.email || !demo.password, "SPOT_E2E_DEMO_EMAIL and SPOT_E2E_DEMO_PASSWORD are not set");
  test.setTimeout(120_000);
  await logIn(page, demo.email, demo.password);
  await page.goto("/clusters");
  await page.getByRole("table", { name: "Clusters" }).getByRole("link").first().click();
  const actions = page.getByRole("table", { name: "Actions" });
  // The autopilot cordons, drains and deletes nodes as it moves the cluster to spot.
  await expect(actions.getByRole("row").nth(1)).toBeVisible({ timeout: 90_000 });
  await expect(actions.getByRole("row").nth(1).getByRole("cell").first()).toHaveText(/^(Cordon|Uncordon|Drain|Label|Taint|Delete) node \S+/);
  await expect(actions).not.toContainText("ACTION_KIND");
  await snap(page, "12-demo-cluster-actions");
});
