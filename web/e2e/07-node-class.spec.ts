import { expect, test } from "@playwright/test";
import { expectFieldError, logIn, snap } from "./helpers";

// With `spot demo`: each of the demo's clusters has the node class imported from its nodes when
// it was registered. A user edits it on the cluster page: a refused value is named at its input
// and nothing is saved; a good one is saved as the next version.
const demo = { email: process.env.SPOT_E2E_DEMO_EMAIL ?? "", password: process.env.SPOT_E2E_DEMO_PASSWORD ?? "" };

test("a cluster's node class is edited on its page", async ({ page }) => {
  test.skip(!demo.email || !demo.password, "SPOT_E2E_DEMO_EMAIL and SPOT_E2E_DEMO_PASSWORD are not set");
  await logIn(page, demo.email, demo.password);
  await page.goto("/clusters");
  await page.getByRole("table", { name: "Clusters" }).getByRole("link").first().click();
  const card = page.getByRole("region", { name: "Node class", exact: true });
  await expect(card.getByText(/^Version 1 ·/)).toBeVisible();
  await card.getByRole("button", { name: "Edit node class" }).click();
  const editor = page.getByRole("form", { name: "Node class editor" });
  const volume = editor.getByLabel("Root volume size (GiB)");

  await volume.fill("10");
  await editor.getByRole("button", { name: "Check" }).click();
  await expectFieldError(volume, /20 to 16384 GiB/);
  await editor.getByRole("button", { name: "Save node class" }).click();
  await expectFieldError(volume, /20 to 16384 GiB/);
  await expect(card.getByText(/^Version 1 ·/)).toBeVisible();

  await volume.fill("40");
  await editor.getByRole("button", { name: "Save node class" }).click();
  await expect(editor.getByRole("status")).toContainText("Node class saved");
  await expect(volume).not.toHaveAttribute("aria-invalid", "true");
  await expect(card.getByText(/^Version 2 ·/)).toBeVisible();
  await snap(page, "13-node-class");
});
