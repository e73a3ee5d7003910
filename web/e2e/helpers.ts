import { expect, type Locator, type Page } from "@playwright/test";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeAgent, type ClusterShape } from "./fakeAgent";

const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "test-output");

export const admin = {
  email: process.env.SPOT_E2E_ADMIN_EMAIL ?? "admin@spot.local",
  password: process.env.SPOT_E2E_ADMIN_PASSWORD ?? "",
};

/** A full-page screenshot under web/test-output/. */
export async function snap(page: Page, name: string) {
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}

export function newTenant() {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return { tenant: `E2E ${id}`, email: `e2e-${id}@example.com`, password: `Correct-Horse-${id}-9` };
}

/**
 * The link of the last mail to `email` (whose link path starts with `path`, when given), from the
 * demo's log (its embedded mailer logs each mail).
 */
export async function mailedLink(email: string, path = ""): Promise<string> {
  const log = process.env.SPOT_E2E_DEMO_LOG;
  expect(log, "SPOT_E2E_DEMO_LOG must name the demo's log file").toBeTruthy();
  let link = "";
  await expect
    .poll(() => {
      const links = readFileSync(log!, "utf8")
        .split("\n")
        .filter((line) => line.includes(`mail to ${email}:`))
        .map((line) => line.match(/open (http\S+)/)?.[1])
        .filter((found): found is string => !!found && new URL(found).pathname.startsWith(path));
      link = links.at(-1) ?? "";
      return link;
    }, { message: `a mail to ${email} in the demo's log` })
    .not.toBe("");
  return link;
}

/** Signs up, follows the verification link from the mail, and lands on the dashboard. */
export async function signUp(page: Page, who = newTenant()) {
  await page.goto("/signup");
  await page.getByLabel("Organization name").fill(who.tenant);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("heading", { name: "Check your email" })).toBeVisible();
  const link = new URL(await mailedLink(who.email));
  await page.goto(`${link.pathname}${link.search}`);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  return who;
}

export async function logIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
}

export async function logInAsAdmin(page: Page) {
  expect(admin.password, "SPOT_E2E_ADMIN_PASSWORD must be set").not.toBe("");
  await logIn(page, admin.email, admin.password);
}

/** Registers a cluster through the UI and returns its id (from the link the page shows). */
export async function registerCluster(page: Page, name: string) {
  await page.goto("/clusters");
  await page.getByLabel("Cluster name").fill(name);
  await page.getByLabel("Region").fill("us-east-1");
  await page.getByRole("button", { name: "Register cluster" }).click();
  const link = page.getByRole("link", { name });
  await expect(link.first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Copy agent install command" })).toBeVisible();
  const href = await link.first().getAttribute("href");
  const agentKey = (await page.getByLabel("Agent key", { exact: true }).textContent())?.trim() ?? "";
  expect(agentKey, "the agent key is shown once").not.toBe("");
  return { clusterId: href!.split("/").pop()!, agentKey };
}

/** Registers a cluster in the UI and connects a stand-in agent with the key the page showed. */
export async function registerClusterWithAgent(page: Page, shape?: ClusterShape) {
  const name = `e2e-${Date.now().toString(36)}`;
  const { clusterId, agentKey } = await registerCluster(page, name);
  const agent = new FakeAgent(agentKey, shape);
  await agent.welcomed;
  return { clusterId, name, agent };
}

/** The input is marked invalid and points (aria-describedby) at its error, which says `reason`. */
export async function expectFieldError(input: Locator, reason: string | RegExp) {
  await expect(input).toHaveAttribute("aria-invalid", "true");
  const describedBy = (await input.getAttribute("aria-describedby")) ?? "";
  const errorId = describedBy.split(" ").find((id) => id.endsWith("-error"));
  expect(errorId, "the input points at its error").toBeTruthy();
  await expect(input.page().locator(`[id="${errorId}"]`)).toContainText(reason);
}
