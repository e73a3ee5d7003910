import { Code, ConnectError } from "@connectrpc/connect";
import { expect, test } from "@playwright/test";
import { formErrors, parseFieldErrors, plainReason } from "../src/api/errors";
import { checkSchedule } from "../src/pages/hibernation/scheduleCheck";
import { draftKeyFor, fromDraft, toDraft } from "../src/pages/policies/policyDraft";

// The field-error contract, checked without a browser: INVALID_ARGUMENT messages are
// "invalid `policy.<field>`: <reason>" joined by "; ".
test("field errors are split per field and mapped onto the policy form", () => {
  const errors = parseFieldErrors(
    "invalid `policy.spot_percent`: must be at most 100; invalid `policy.disruption_budget.time_zone`: unknown time zone `Mars/Base`; bad request",
    "policy",
  );
  expect(errors).toEqual([
    { field: "spot_percent", reason: "must be at most 100" },
    { field: "disruption_budget.time_zone", reason: "unknown time zone `Mars/Base`; bad request" },
  ]);
  expect(parseFieldErrors("something else", "policy")).toEqual([{ field: "", reason: "something else" }]);
  const draft = toDraft(undefined);
  expect(draftKeyFor("allowed_generations[1]", draft)).toBe("allowed_generations");
  expect(draftKeyFor("disruption_budget.max_percent", draft)).toBe("disruption_budget.max_percent");
  expect(draftKeyFor("nonsense", draft)).toBeNull();
});

test("out-of-range values reach the server; values that cannot be encoded do not", () => {
  const draft = { ...toDraft(undefined), spot_percent: "150", allowed_families: "m5, c6i" };
  const ok = fromDraft(draft, "c1");
  expect(ok.policy?.spotPercent).toBe(150);
  expect(ok.policy?.allowedFamilies).toEqual(["m5", "c6i"]);
  const bad = fromDraft({ ...draft, spot_percent: "-1", min_pools: "x" }, "c1");
  expect(bad.policy).toBeUndefined();
  expect(Object.keys(bad.errors).sort()).toEqual(["min_pools", "spot_percent"]);
});

test("a form's field errors go to the input their path starts with; the rest are general", () => {
  const refused = new ConnectError(
    "invalid `template.taints[1].effect`: must be NoSchedule, PreferNoSchedule or NoExecute; invalid `template.labels`: key `a b` is bad; invalid `template.owner`: unknown",
    Code.InvalidArgument,
  );
  expect(formErrors(refused, "template", ["name", "labels", "taints"])).toEqual({
    fields: { taints: "must be NoSchedule, PreferNoSchedule or NoExecute", labels: "key `a b` is bad" },
    general: ["owner: unknown"],
  });
  expect(formErrors(new ConnectError("no such template", Code.NotFound), "template", ["name"])).toEqual({ fields: {}, general: ["no such template"] });
  expect(formErrors(null, "template", ["name"])).toEqual({ fields: {}, general: [] });
});

test("a library's words in a server reason become the rule they stand for", () => {
  expect(plainReason("the hour field `25` is not valid (Number out of bounds)")).toBe(
    "The hour field (25) is not valid: use a number from 0 to 23, *, a range such as 1-5, a list such as 1,3 or a step such as */15.",
  );
  expect(plainReason("the same as sleep_cron: the cluster would never sleep")).toBe("the same as the sleep time: the cluster would never sleep");
  expect(plainReason("must be at most 100")).toBe("must be at most 100");
});

test("the schedule form finds every field's problem at once", () => {
  expect(checkSchedule({ sleep_cron: "0 20 * * 1-5", wake_cron: "0 7 * * 1-5", time_zone: "Europe/Berlin", must_run: "db/postgres, kube-system/coredns" })).toEqual({});
  expect(checkSchedule({ sleep_cron: "0 25 * *", wake_cron: "*/0 7 * * 1", time_zone: "Mars/Base", must_run: "postgres, db/Bad" })).toEqual({
    sleep_cron: "A cron pattern has five fields (minute hour day-of-month month day-of-week); this one has 4.",
    wake_cron: "The step in the minute field (*/0) must be a whole number of 1 or more.",
    time_zone: "Mars/Base is not a time zone: use an IANA name such as Europe/Berlin or America/New_York.",
    must_run: "Write each workload as namespace/name in lower-case letters, digits, '-' and '.'; postgres, db/Bad are not.",
  });
  expect(checkSchedule({ sleep_cron: "0 20 * * *", wake_cron: "0  20 * * *", time_zone: "UTC", must_run: "" })).toEqual({
    wake_cron: "The wake time must differ from the sleep time, or the cluster would never sleep.",
  });
  expect(checkSchedule({ sleep_cron: "", wake_cron: "0 7 * JAN-MAR L", time_zone: "", must_run: "" })).toEqual({
    sleep_cron: "Enter when the cluster should go to sleep, as a cron pattern such as 0 20 * * 1-5.",
    time_zone: "Enter the time zone the times are in, such as Europe/Berlin.",
  });
});
