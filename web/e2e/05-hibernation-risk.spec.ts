import { expect, test } from "@playwright/test";
import { expectFieldError, logIn, snap } from "./helpers";

// The demo tenant's clusters: a hibernation schedule with a bad cron is refused naming the field,
// a good one shows its next transitions in the browser's zone (Asia/Tokyo, UTC+9, set in
// playwright.config.ts), then is removed after a confirmation naming it; risk scores explain themselves.
const demo = { email: process.env.SPOT_E2E_DEMO_EMAIL ?? "", password: process.env.SPOT_E2E_DEMO_PASSWORD ?? "" };

test.beforeEach(() => {
  test.skip(!demo.email || !demo.password, "SPOT_E2E_DEMO_EMAIL and SPOT_E2E_DEMO_PASSWORD are not set");
});

test("a hibernation schedule: a bad cron names the field, a good one shows its transitions in the user's zone", async ({ page }) => {
  await logIn(page, demo.email, demo.password);
  await page.goto("/hibernation");
  const form = page.getByRole("form", { name: "New schedule" });
  await expect(form).toBeVisible();
  await form.getByLabel("Sleep at (cron)").fill("0 25 * * 1-5");
  await form.getByLabel("Wake at (cron)").fill("0 7 * * 9");
  await expect(form.getByLabel("Schedule time zone"), "the browser's zone by default").toHaveValue("Asia/Tokyo");
  await form.getByLabel("Schedule time zone").fill("Mars/Olympus_Mons");
  await form.getByRole("button", { name: "Add schedule" }).click();
  // Every field's problem at once, each a sentence naming the rule, never a library's own words.
  await expect(form.getByRole("alert")).toContainText("The schedule was not added: 3 problems.");
  await expectFieldError(form.getByLabel("Sleep at (cron)"), "The hour must be from 0 to 23; 25 is not.");
  await expectFieldError(form.getByLabel("Wake at (cron)"), "The day of the week must be from 0 to 7; 9 is not.");
  await expectFieldError(form.getByLabel("Schedule time zone"), "Mars/Olympus_Mons is not a time zone");
  await expect(form).not.toContainText(/out of bounds/i);
  await snap(page, "13-hibernation-field-errors");
  // A fixed field's error goes as soon as it is fixed; the others stay.
  await form.getByLabel("Wake at (cron)").fill("0 7 * * 1-5");
  await expect(form.getByLabel("Wake at (cron)")).not.toHaveAttribute("aria-invalid", "true");
  await form.getByLabel("Schedule time zone").fill("UTC");
  await expect(form.getByRole("alert")).toContainText("The schedule was not added: one problem.");
  await expectFieldError(form.getByLabel("Sleep at (cron)"), "25 is not");
  // What only the server can tell (a name it does not know) is said in the same plain words, and
  // goes too once the field changes.
  await form.getByLabel("Sleep at (cron)").fill("0 20 * * FRI-XYZ");
  await form.getByRole("button", { name: "Add schedule" }).click();
  await expectFieldError(form.getByLabel("Sleep at (cron)"), /^The day of the week field \(FRI-XYZ\) is not valid: use a number from 0 to 7/);
  await expect(form).not.toContainText(/out of bounds/i);

  await form.getByLabel("Sleep at (cron)").fill("0 20 * * 1-5");
  await form.getByRole("button", { name: "Add schedule" }).click();
  const remove = page.getByRole("button", { name: "Delete schedule 0 20 * * 1-5 to 0 7 * * 1-5" });
  await expect(remove).toBeVisible();
  // 20:00 and 07:00 UTC are 05:00 and 16:00 in Tokyo.
  await expect(page.getByText("Times in your time zone (Asia/Tokyo).")).toBeVisible();
  const at = (utc: string) => page.getByRole("listitem").filter({ has: page.locator(`time[datetime$="T${utc}:00.000Z"]`) }).first();
  await expect(at("20:00")).toContainText("Hibernate");
  await expect(at("20:00")).toContainText("05:00");
  await expect(at("07:00")).toContainText("Wake");
  await expect(at("07:00")).toContainText(/04:00\sPM|16:00/);
  await snap(page, "13-hibernation-schedule");
  // Deleting asks first, naming the schedule and the cluster it stops hibernating.
  await remove.click();
  const confirm = page.getByRole("dialog", { name: "Delete schedule 0 20 * * 1-5 to 0 7 * * 1-5?" });
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText(/Cluster .+ no longer hibernates at 0 20 \* \* 1-5 or wakes at 0 7 \* \* 1-5/);
  await snap(page, "13-hibernation-delete-confirm");
  await confirm.getByRole("button", { name: "Delete schedule", exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(remove).toHaveCount(0);
});

test("risk scores list each spot pool of a type with the parts of its score", async ({ page }) => {
  await logIn(page, demo.email, demo.password);
  await page.goto("/risk");
  await page.getByLabel("Instance types").fill("m5.large");
  await page.getByRole("button", { name: "Score" }).click();
  const table = page.getByRole("table", { name: "Risk scores" });
  await expect(table.getByText("m5.large us-east-1a")).toBeVisible();
  await expect(table.getByText("recency-v1").first()).toBeVisible();
  await expect(table.getByText(/advisor bucket prior/).first()).toBeVisible();
  await snap(page, "14-risk-scores");
});

test("a lab experiment: an unknown candidate names the field, a known one runs in shadow and stops", async ({ page }) => {
  await logIn(page, demo.email, demo.password);
  await page.goto("/risk");
  const form = page.getByRole("form", { name: "New experiment" });
  await expect(form).toBeVisible();
  await form.getByLabel("Experiment name").fill("prior only");
  await form.getByLabel("Candidate").fill("crystal-ball-v1");
  await form.getByLabel("checkout-web").check();
  await form.getByRole("button", { name: "Start experiment" }).click();
  await expectFieldError(form.getByLabel("Candidate"), "crystal-ball-v1");

  await form.getByLabel("Candidate").fill("bucket-prior-v1");
  await form.getByRole("button", { name: "Start experiment" }).click();
  const table = page.getByRole("table", { name: "Experiments" });
  await expect(table.getByText("bucket-prior-v1 vs recency-v1 (live)")).toBeVisible();
  const stop = page.getByRole("button", { name: "Stop prior only" });
  await expect(stop).toBeVisible();
  await snap(page, "15-lab-experiment");
  await stop.click();
  await expect(page.getByRole("button", { name: "Archive prior only" })).toBeVisible();
  await expect(table.getByText(/Stopped: stopped by user:/)).toBeVisible();
});
