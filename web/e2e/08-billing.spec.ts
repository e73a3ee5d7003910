import { expect, test } from "@playwright/test";
import { signUp, snap } from "./helpers";

// A new tenant starts on the free plan; its owner moves it to the savings share at once (the
// monthly minimum prorated over what is left of the period), cancels back to free at the period's
// end, and undoes that.
test("a new owner opens Billing, is on the free plan and changes to the savings share", async ({ page }) => {
  await signUp(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Billing" }).click();
  await expect(page).toHaveURL(/\/billing$/);
  await expect(page.getByRole("heading", { name: "Billing", level: 1 })).toBeVisible();

  const plan = page.getByTestId("billing-plan");
  await expect(plan).toHaveText("Free");
  await expect(page.getByTestId("billing-status")).toHaveText("Active");
  await expect(page.getByTestId("past-due-banner")).toHaveCount(0);
  await expect(page.getByTestId("billing-preview-total")).toBeVisible();
  await expect(page.getByRole("region", { name: "Invoice history" }).getByText("No invoices yet")).toBeVisible();
  const changePlan = page.getByRole("region", { name: "Change plan" });
  await expect(changePlan.getByRole("button", { name: "Current plan" })).toBeDisabled();
  // Enterprise terms are set by the platform: not a choice.
  await expect(changePlan.getByRole("button", { name: "Switch to Enterprise" })).toHaveCount(0);
  await expect(changePlan.getByRole("button", { name: "Cancel at period end" })).toBeDisabled();
  await snap(page, "18-billing-free");

  await changePlan.getByRole("button", { name: "Switch to Savings share" }).click();
  const dialog = page.getByRole("dialog", { name: "Switch to Savings share?" });
  await expect(dialog).toContainText("prorated");
  await dialog.getByRole("button", { name: "Switch plan" }).click();
  await expect(dialog).toBeHidden();
  await expect(changePlan.getByRole("alert")).toHaveCount(0);

  // From the free plan the change is at once.
  await expect(plan).toHaveText("Savings share");
  await expect(page.getByTestId("billing-pending-change")).toHaveCount(0);
  // No savings yet: the fee is the prorated minimum, on its own line.
  const lines = page.getByRole("table", { name: "Invoice preview lines" });
  await expect(lines.getByTestId("invoice-line-minimum")).toContainText("Monthly minimum");
  const total = page.getByTestId("billing-preview-total");
  await expect(total).toHaveText(/\d\.\d\d$/);
  await expect(total).not.toHaveText("$0.00");
  await expect(lines.getByRole("row").last()).toContainText((await total.textContent())!);
  await snap(page, "19-billing-savings-share");

  // Cancelling returns to the free plan at the end of the period; switching back undoes it.
  await changePlan.getByRole("button", { name: "Cancel at period end" }).click();
  const cancel = page.getByRole("dialog", { name: "Cancel Savings share at period end?" });
  await cancel.getByRole("button", { name: "Back to Free at period end" }).click();
  await expect(cancel).toBeHidden();
  await expect(plan).toHaveText("Savings share");
  await expect(page.getByTestId("billing-pending-change")).toContainText("Free");
  await changePlan.getByRole("button", { name: "Keep Savings share" }).click();
  await page.getByRole("dialog", { name: "Keep Savings share?" }).getByRole("button", { name: "Keep plan" }).click();
  await expect(page.getByTestId("billing-pending-change")).toHaveCount(0);
  await expect(plan).toHaveText("Savings share");
});
