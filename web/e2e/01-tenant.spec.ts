import { expect, test } from "@playwright/test";
import { expectFieldError, logIn, mailedLink, newTenant, registerCluster, signUp, snap } from "./helpers";

test.describe.configure({ mode: "serial" });

const who = newTenant();

test("sign up a new tenant, log out and log in again", async ({ page }) => {
  await signUp(page, who);
  await snap(page, "01-signed-up-dashboard");
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("button", { name: "Log in" })).toBeVisible();
  await logIn(page, who.email, who.password);
  await expect(page.getByText(who.email)).toBeVisible();
});

test("the refresh token is an HttpOnly cookie scripts cannot read, and a reload keeps the session", async ({ page, context }) => {
  await logIn(page, who.email, who.password);
  const refreshCookie = async () => (await context.cookies()).find((c) => c.name === "spot_refresh");
  const before = await refreshCookie();
  expect(before, "the edge sets the refresh cookie").toBeDefined();
  expect(before!.httpOnly).toBe(true);
  expect(before!.sameSite).toBe("Strict");
  expect(before!.path).toBe("/spot.auth.v1.AuthService/");
  expect(await page.evaluate(() => document.cookie)).not.toContain("spot_refresh");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  expect(stored).not.toContain(before!.value);
  expect(stored, "the access token lives in memory").not.toContain("eyJ");
  // A reload has no token in memory: the cookie is traded for one, and rotates.
  await page.reload();
  await expect(page.getByText(who.email)).toBeVisible();
  await expect(page.getByTestId("kpis")).toBeVisible();
  expect((await refreshCookie())?.value, "refresh tokens rotate").not.toBe(before!.value);
});

test("the dashboard shows the KPIs", async ({ page }) => {
  await logIn(page, who.email, who.password);
  const kpis = page.getByTestId("kpis");
  await expect(kpis).toBeVisible();
  for (const label of ["Hourly cost now", "On-demand equivalent", "Savings to date", "Spot share", "Nodes", "CPU allocation", "Memory allocation", "Interruptions handled"]) {
    await expect(kpis.getByText(label)).toBeVisible();
  }
  await expect(page.getByRole("heading", { name: "Cost and savings over time" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Live events" })).toBeVisible();
  await snap(page, "02-dashboard-kpis");
});

test("without clusters, the optimizer and hibernation point to the clusters page; a missing cluster or plan says so", async ({ page }) => {
  await logIn(page, who.email, who.password);
  for (const path of ["/optimizer", "/hibernation"]) {
    await page.goto(path);
    await expect(page.getByText("No clusters yet")).toBeVisible();
    await page.getByRole("link", { name: "Register a cluster" }).click();
    await expect(page).toHaveURL(/\/clusters$/);
  }
  await page.goto("/clusters/no-such-cluster");
  await expect(page.getByText("There is no such cluster")).toBeVisible();
  await page.goto("/optimizer/plans/no-such-plan");
  await expect(page.getByText("There is no such plan")).toBeVisible();
});

test("register a cluster and open it", async ({ page }) => {
  await logIn(page, who.email, who.password);
  const name = `e2e-${Date.now().toString(36)}`;
  const { clusterId } = await registerCluster(page, name);
  await snap(page, "03-cluster-registered");
  await page.goto("/clusters");
  await page.getByRole("link", { name }).click();
  await expect(page).toHaveURL(new RegExp(`/clusters/${clusterId}$`));
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  // No agent has connected: the page says so instead of breaking.
  await expect(page.getByText("Not connected")).toBeVisible();
  await expect(page.getByText("No nodes reported")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Actions" })).toBeVisible();
  await snap(page, "04-cluster-detail-empty");
});

test("saving a policy with an invalid value shows the field error", async ({ page }) => {
  await logIn(page, who.email, who.password);
  await page.goto("/policies");
  await expect(page.getByRole("form", { name: "Policy editor" })).toBeVisible();

  const spot = page.getByLabel("Spot percent");
  await spot.fill("150");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expectFieldError(spot, /100/);
  await expect(page.getByRole("alert").filter({ hasText: "The policy was not saved" })).toBeVisible();
  await snap(page, "05-policy-field-error");

  // The error goes as soon as the field changes, before saving again.
  await spot.fill("80");
  await expect(spot).not.toHaveAttribute("aria-invalid", "true");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByText("Policy saved.")).toBeVisible();
  await expect(spot).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("table", { name: "Policy versions" }).getByRole("row").nth(1)).toContainText("80");
});

test("a node template with an invalid label key and taint effect shows each error at its input", async ({ page }) => {
  await logIn(page, who.email, who.password);
  await page.goto("/policies");
  const form = page.getByRole("form", { name: "New node template" });
  await form.getByLabel("Template name").fill("gpu-workers");
  await form.getByLabel("Labels", { exact: true }).fill("bad key=yes");
  await form.getByLabel("Taints", { exact: true }).fill("dedicated=gpu:NoScheduel");
  await form.getByRole("button", { name: "Create template" }).click();
  await expectFieldError(form.getByLabel("Labels", { exact: true }), "bad key");
  await expectFieldError(form.getByLabel("Taints", { exact: true }), "must be NoSchedule, PreferNoSchedule or NoExecute");
  await expect(form.getByRole("alert")).toContainText("The template was not created");
  await snap(page, "05-node-template-field-errors");
  // Both errors at once; fixing one field takes only its error away.
  await form.getByLabel("Labels", { exact: true }).fill("gpu=yes");
  await expect(form.getByLabel("Labels", { exact: true })).not.toHaveAttribute("aria-invalid", "true");
  await expectFieldError(form.getByLabel("Taints", { exact: true }), "must be NoSchedule, PreferNoSchedule or NoExecute");
});

test("an invitation to an address with an account joins that account, which switches between its tenants", async ({ page, browser }) => {
  const other = newTenant();
  const otherContext = await browser.newContext();
  const otherPage = await otherContext.newPage();
  await signUp(otherPage, other);

  await logIn(page, who.email, who.password);
  await page.goto("/team");
  const form = page.getByRole("form", { name: "Invite a user" });
  await form.getByLabel("Email to invite").fill(other.email);
  await form.getByRole("button", { name: /Invite/ }).click();
  const invite = new URL(await mailedLink(other.email, "/invite"));
  expect(invite.pathname).toBe("/invite");

  // The invitee, signed in to their own tenant, joins with their existing password.
  await otherPage.goto(`${invite.pathname}${invite.search}`);
  await otherPage.getByLabel("Password").fill(other.password);
  await otherPage.getByRole("button", { name: "Join" }).click();
  await expect(otherPage.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  const tenant = otherPage.getByLabel("Tenant");
  await expect(tenant.locator("option:checked")).toHaveText(who.tenant);
  await expect(tenant.locator("option")).toHaveText([other.tenant, who.tenant]);
  await snap(otherPage, "01-tenant-switcher");

  // Back to their own tenant: the team there is theirs alone.
  await tenant.selectOption({ label: other.tenant });
  await expect(tenant.locator("option:checked")).toHaveText(other.tenant);
  await otherPage.goto("/team");
  await expect(otherPage.getByRole("cell", { name: `${other.email} (you)` })).toBeVisible();
  await expect(otherPage.getByRole("cell", { name: who.email })).toHaveCount(0);
  // A reload keeps the tenant chosen: the refresh cookie is the new session's.
  await otherPage.reload();
  await expect(otherPage.getByLabel("Tenant").locator("option:checked")).toHaveText(other.tenant);
  await otherContext.close();
});
