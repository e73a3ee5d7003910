import { expect, type Page } from "@playwright/test";

/**
 * Opens the optimizer for a cluster and asks for recommendations until one has steps to apply
 * (the agent's first report takes a moment to arrive).
 */
export async function recommendUntilActionable(page: Page, clusterId: string) {
  await page.goto(`/optimizer?cluster=${clusterId}`);
  const apply = page.getByRole("button", { name: "Apply plan" });
  await expect
    .poll(
      async () => {
        await page.getByRole("button", { name: /Get recommendation|Recommend again/ }).click();
        await expect(page.getByTestId("recommendation").or(page.getByRole("alert")).first()).toBeVisible({ timeout: 20_000 });
        return (await apply.isVisible()) && (await apply.isEnabled());
      },
      { timeout: 30_000, intervals: [1_000, 2_000] },
    )
    .toBe(true);
  await expect(page.getByTestId("plan-step").first()).toBeVisible();
}
