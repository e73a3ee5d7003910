import { expect, test } from "@playwright/test";
import { logInAsAdmin, signUp, snap } from "./helpers";

test("link an AWS account: the external id and both IAM policies come with copy buttons", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signUp(page);
  await page.goto("/accounts");
  const externalId = page.getByLabel("External id", { exact: true });
  await expect(externalId).not.toBeEmpty();
  const id = (await externalId.textContent())!.trim();
  await expect(page.getByLabel("Trust policy", { exact: true })).toContainText(id);
  await expect(page.getByLabel("Permission policy", { exact: true })).toContainText("ec2:DescribeInstances");
  await expect(page.getByRole("button", { name: "Copy trust policy" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Copy permission policy" })).toBeVisible();
  await page.getByRole("button", { name: "Copy external id" }).click();
  await expect(page.getByRole("button", { name: "Copy external id" })).toContainText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id);

  await page.getByLabel("Role ARN").fill("arn:aws:iam::123456789012:role/spot-optimizer");
  await page.getByRole("button", { name: "Link account" }).click();
  await expect(page.getByText("Linked account 123456789012.")).toBeVisible();
  await snap(page, "16-aws-account-linked");
});

test("as admin, the admin page shows every service serving and the tenants", async ({ page }) => {
  await logInAsAdmin(page);
  await page.goto("/admin");
  const health = page.getByRole("table", { name: "Service health" });
  for (const service of ["auth", "cluster", "policy", "billing", "risk", "optimizer"]) {
    await expect(health.getByRole("row").filter({ hasText: service }).first()).toContainText("Serving");
  }
  await expect(health.getByText("Not serving")).toHaveCount(0);
  await expect(page.getByRole("table", { name: "Tenants" })).toContainText("Demo Co");
  await snap(page, "17-admin");
});
