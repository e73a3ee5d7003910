import { expect, test, type Page } from "@playwright/test";
import { logInAsAdmin, snap } from "./helpers";
import { findActionableRecommendation } from "./optimizerFlow";

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
  try {
    await setSafeMode(page, true);
    await snap(page, "09-safe-mode-on");
    const cluster = await findActionableRecommendation(page);
    if (cluster) {
      await page.getByRole("button", { name: "Apply plan" }).click();
      const refusedPage = page.getByTestId("plan-state").filter({ hasText: "Refused" });
      const refusedError = page.getByRole("alert").filter({ hasText: /safe mode/i });
      await expect(refusedPage.or(refusedError).first()).toBeVisible();
    } else {
      // Nothing left to optimize: an operator's cordon goes through the same check.
      test.info().annotations.push({ type: "note", description: "no recommendation had steps; checked an operator action instead" });
      await page.goto("/clusters");
      await page.getByRole("table", { name: "Clusters" }).getByRole("link").first().click();
      const cordon = page.getByRole("button", { name: /^Cordon / }).first();
      await expect(cordon).toBeVisible();
      await cordon.click();
      await expect(page.getByRole("alert").filter({ hasText: /refused|safe mode/i }).first()).toBeVisible();
    }
    await snap(page, "10-apply-refused");
  } finally {
    await setSafeMode(page, false);
  }
  await snap(page, "11-safe-mode-off");
});
