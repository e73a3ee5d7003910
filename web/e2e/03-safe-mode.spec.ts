import { expect, test, type Page } from "@playwright/test";
import { logInAsAdmin, registerClusterWithAgent, snap } from "./helpers";
import { recommendUntilActionable } from "./optimizerFlow";

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

test("as admin, safe mode refuses an apply, then is turned off", async ({ page }) => {
  await logInAsAdmin(page);
  const { clusterId, agent } = await registerClusterWithAgent(page);
  try {
    await recommendUntilActionable(page, clusterId);
    const planUrl = page.url();
    await setSafeMode(page, true);
    await snap(page, "09-safe-mode-on");
    await page.goto(planUrl);
    // Every user sees it on every page while it is on.
    await expect(page.getByTestId("safe-mode-banner")).toContainText("Safe mode is on");
    await page.getByRole("button", { name: /Get recommendation|Recommend again/ }).click();
    await expect(page.getByRole("button", { name: "Apply plan" })).toBeEnabled();
    await page.getByRole("button", { name: "Apply plan" }).click();
    await expect(page).toHaveURL(/\/optimizer\/plans\//);
    await expect(page.getByTestId("plan-state")).toContainText("Refused", { timeout: 30_000 });
    await expect(page.getByTestId("plan-reason")).toContainText(/safe mode/i);
    // A refused plan never shows a full progress bar: only what was carried out (nothing).
    await expect(page.getByTestId("plan-progress-summary")).toContainText(/^Refused: 0 of \d+ steps carried out/);
    await expect(page.getByRole("progressbar", { name: "Plan progress" })).toHaveAttribute("aria-valuenow", "0");
    await snap(page, "10-apply-refused");
  } finally {
    await setSafeMode(page, false);
    agent.stop();
  }
  await snap(page, "11-safe-mode-off");
});
