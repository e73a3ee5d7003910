import { create } from "@bufbuild/protobuf";
import { MoneySchema } from "@spot-optimizer/sdk/gen/spot/billing/v1/billing_pb.js";
import { expect, test } from "@playwright/test";
import { formatCurrency, formatPercent, formatUsd, formatUsdPerHour } from "../src/api/format";
import { formatMajor, formatMoney } from "../src/components/money";

// Amounts and percentages read the same everywhere, checked without a browser, in Node's default
// locale (en-US unless LANG says otherwise; another locale moves the symbol, never the minus).

test("money has two decimals and a true minus sign before the symbol", () => {
  expect(formatUsd(1234.5)).toBe("$1,234.50");
  expect(formatUsd(-1.234)).toBe("\u2212$1.23");
  expect(formatUsd(-0.001)).toBe("$0.00");
  expect(formatMajor(-12, "eur")).toMatch(/^\u2212€12\.00$/);
  expect(formatMoney(create(MoneySchema, { minorUnits: -123n, currency: "USD" }))).toBe("\u2212$1.23");
  expect(formatMoney(create(MoneySchema, { minorUnits: 500n, currency: "JPY" }))).toMatch(/^[¥￥]500$/);
  expect(formatCurrency(2.5, "XYZ1")).toBe("2.50 XYZ1");
});

test("prices per hour under a dollar keep four decimals; percentages have one", () => {
  expect(formatUsdPerHour(0.0312)).toBe("$0.0312");
  expect(formatUsdPerHour(-0.0045)).toBe("\u2212$0.0045");
  expect(formatUsdPerHour(12.3456)).toBe("$12.35");
  expect(formatUsdPerHour(0)).toBe("$0.00");
  expect(formatPercent(80)).toBe("80.0 %");
  expect(formatPercent(-3.04)).toBe("\u22123.0 %");
  expect(formatPercent(-0.01)).toBe("0.0 %");
});
