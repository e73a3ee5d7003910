import { expect, type Page } from "@playwright/test";

/**
 * Goes through the clusters on the optimizer page and stops at the first whose recommendation
 * has steps to apply. Returns the cluster's name, or null when none has (all already optimized).
 */
export async function findActionableRecommendation(page: Page): Promise<string | null> {
  await page.goto("/optimizer");
  const picker = page.getByLabel("Cluster", { exact: true });
  await expect(picker).toBeEnabled();
  const options = await picker.locator("option").evaluateAll((els) =>
    els.map((el) => ({ value: (el as HTMLOptionElement).value, label: el.textContent ?? "" })).filter((o) => o.value),
  );
  for (const option of options) {
    await picker.selectOption(option.value);
    await page.getByRole("button", { name: /Get recommendation|Recommend again/ }).click();
    const recommendation = page.getByTestId("recommendation");
    const failure = page.getByRole("alert");
    await expect(recommendation.or(failure).first()).toBeVisible({ timeout: 30_000 });
    if (!(await recommendation.isVisible())) continue;
    if (await page.getByRole("button", { name: "Apply plan" }).isEnabled()) return option.label;
  }
  return null;
}
