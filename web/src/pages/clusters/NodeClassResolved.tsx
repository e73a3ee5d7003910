import type { ResolvedNodeClass } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { Table, Td } from "../../components/ui";
import { ARCHITECTURES } from "./nodeClassDraft";

/** What a node class resolves to in the linked account: the subnet per zone, groups, profile, images. */
export function NodeClassResolved({ resolved }: { resolved: ResolvedNodeClass }) {
  const zones = Object.entries(resolved.subnetsByZone).sort(([a], [b]) => a.localeCompare(b));
  const images = Object.entries(resolved.imagesByArchitecture).sort(([a], [b]) => a.localeCompare(b));
  const missing = Object.keys(ARCHITECTURES).filter((arch) => !resolved.imagesByArchitecture[arch]);
  return (
    <div className="mt-3 grid gap-3 rounded-md border border-slate-200 p-3 md:grid-cols-2">
      <div>
        <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-500">Subnet per zone</h3>
        {zones.length === 0 ? (
          <p className="text-sm text-slate-600">No subnet was found.</p>
        ) : (
          <Table caption="Subnet per zone" head={["Zone", "Subnet"]}>
            {zones.map(([zone, subnet]) => (
              <tr key={zone}>
                <Td className="text-xs">{zone}</Td>
                <Td className="font-mono text-xs">{subnet}</Td>
              </tr>
            ))}
          </Table>
        )}
      </div>
      <dl className="space-y-2 text-sm">
        <div>
          <dt className="text-xs text-slate-500">Security groups</dt>
          <dd className="font-mono text-xs">{resolved.securityGroupIds.join(", ") || "—"}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-500">Instance profile</dt>
          <dd className="font-mono text-xs break-all">{resolved.instanceProfileArn || "—"}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-500">Images</dt>
          <dd>
            {images.length === 0 ? (
              "—"
            ) : (
              <ul>
                {images.map(([arch, image]) => (
                  <li key={arch} className="text-xs">
                    {ARCHITECTURES[arch] ?? arch}: <span className="font-mono">{image}</span>
                  </li>
                ))}
              </ul>
            )}
            {missing.map((arch) => (
              <p key={arch} className="text-xs text-amber-800">
                No image for {ARCHITECTURES[arch]}: instances of that architecture cannot be launched.
              </p>
            ))}
          </dd>
        </div>
      </dl>
    </div>
  );
}
