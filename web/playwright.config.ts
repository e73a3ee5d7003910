import { defineConfig } from "@playwright/test";

// Runs against a live server (SPOT_E2E_URL serves the web app and the API on one origin, or a vite
// server pointed at the API). Debian's Chromium drives it: never `playwright install`.
const baseURL = process.env.SPOT_E2E_URL;
if (!baseURL) throw new Error("SPOT_E2E_URL is not set: the URL of a server with the web app (e.g. `spot demo`)");

export default defineConfig({
  testDir: "./e2e",
  // One tsconfig for every imported file, so the SDK's sources resolve through web's paths.
  tsconfig: "./tsconfig.json",
  outputDir: "./test-output/results",
  // Safe mode is platform-wide: the tests run one at a time, in file order.
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    viewport: { width: 1366, height: 768 },
    // A zone far from UTC, so times shown in the user's zone differ from the server's.
    timezoneId: "Asia/Tokyo",
    screenshot: "only-on-failure",
    trace: "off",
    launchOptions: {
      executablePath: process.env.SPOT_E2E_CHROMIUM ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
});
