import { Code, ConnectError } from "@connectrpc/connect";
import { expect, test } from "@playwright/test";
import { formErrors, parseFieldErrors } from "../src/api/errors";
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
