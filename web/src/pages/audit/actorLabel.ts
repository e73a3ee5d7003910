import type { Actor } from "@spot-optimizer/sdk/gen/spot/common/v1/common_pb.js";

/** Who did it, in a few words. */
export function actorLabel(actor: Actor | undefined): string {
  const kind = actor?.kind;
  switch (kind?.case) {
    case "userId":
      return `user ${kind.value}`;
    case "apiKeyId":
      return `API key ${kind.value}`;
    case "service":
      return `service ${kind.value}`;
    case "policyId":
      return `policy ${kind.value}`;
    default:
      return "—";
  }
}
