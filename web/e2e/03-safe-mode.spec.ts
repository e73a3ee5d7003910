import { expect, test, type Page } from "@playwright/test";
import { logInAsAdmin, registerClusterWithAgent, snap } from "./helpers";
import { recommendUntilActionable } from "./optimizerFlow";
import { platformApiAs } from "./platformApi";

async function setSafeMode(page: Page, on: boolean) {
  await page.goto("/admin");
  const state = page.getByTestId("safe-mode-state");
  await expect(state).toBeVisible();
  if ((await state.textContent())?.includes(on ? "On" : "Off")) return;
  await page.getByRole("switch", { name: "Safe mode" }).click();
  const dialog = page.getByRole("dialog", { name: on ? "Turn safe mode on?" : "Turn safe mode off?" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: on ? "Turn on" : "Turn off" }).click();
  await expect(dialog).toBeHidden();
  await expect(state).toContainText(on ? "On" : "Off");
}

// In safe mode the app does not offer to apply a plan (the button is disabled and says why), but
// the server stays the authority: a plan applied anyway, straight through the API, is refused.
test("as admin, safe mode disables Apply and says why, refuses a plan applied anyway, then is turned off", async ({ page }) => {
  await logInAsAdmin(page);
  const { clusterId, agent } = await registerClusterWithAgent(page);
  try {
    await recommendUntilActionable(page, clusterId);
    const optimizerUrl = page.url();
    await setSafeMode(page, true);
    await snap(page, "09-safe-mode-on");
    await page.goto(optimizerUrl);
    // Every user sees it on every page while it is on.
    await expect(page.getByTestId("safe-mode-banner")).toContainText("Safe mode is on");
    await page.getByRole("button", { name: /Get recommendation|Recommend again/ }).click();
    await expect(page.getByTestId("plan-step").first()).toBeVisible({ timeout: 20_000 });
    const apply = page.getByRole("button", { name: "Apply plan" });
    await expect(apply).toBeDisabled();
    await expect(apply).toHaveAttribute("title", /^Safe mode is on/);
    await expect(page.getByTestId("apply-disabled-reason")).toContainText("Safe mode is on: the platform changes nothing in any cluster");
    await expect(apply).toHaveAccessibleDescription(/^Safe mode is on/);
    await snap(page, "10-apply-disabled-safe-mode");

    const planId = (await page.getByTestId("recommendation-plan-id").getAttribute("data-plan-id")) ?? "";
    expect(planId, "the recommendation names its plan").not.toBe("");
    // The cluster's node buttons are off too, and say why.
    await page.goto(`/clusters/${clusterId}`);
    const drain = page.getByRole("button", { name: "Drain e2e-a" });
    await expect(drain).toBeDisabled();
    await expect(drain).toHaveAccessibleDescription(/^Safe mode is on: no node is cordoned or drained/);
    await expect(page.getByRole("button", { name: "Cordon e2e-a" })).toHaveAttribute("title", /^Safe mode is on/);
    const platform = await platformApiAs(page);
    await platform.optimizer.applyPlan({ planId });
    await page.goto(`/optimizer/plans/${planId}`);
    await expect(page.getByTestId("plan-state")).toContainText("Refused", { timeout: 30_000 });
    await expect(page.getByTestId("plan-reason")).toContainText(/^Why it was refused: .*safe mode/i);
    // A refused plan never shows a full progress bar: only what was carried out (nothing).
    await expect(page.getByTestId("plan-progress-summary")).toContainText(/^Refused: 0 of \d+ steps carried out/);
    await expect(page.getByRole("progressbar", { name: "Plan progress" })).toHaveAttribute("aria-valuenow", "0");
    await expect(page.getByRole("button", { name: "Apply plan" })).toBeDisabled();
    await expect(page.getByTestId("apply-disabled-reason")).toContainText("This plan was refused");
    await snap(page, "10-apply-refused");
  } finally {
    await setSafeMode(page, false);
    agent.stop();
  }
  await snap(page, "11-safe-mode-off");
});
