import { Role } from "@spot-optimizer/sdk/gen/spot/auth/v1/auth_pb.js";

export const ROLES = [
  { value: Role.VIEWER, label: "Viewer" },
  { value: Role.MEMBER, label: "Member" },
  { value: Role.ADMIN, label: "Admin" },
  { value: Role.OWNER, label: "Owner" },
];

export const roleLabel = (role: Role) => ROLES.find((r) => r.value === role)?.label ?? "—";
