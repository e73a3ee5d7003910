import type { UnplacedPod } from "@spot-optimizer/sdk/gen/spot/optimizer/v1/optimizer_pb.js";

export function UnplacedPods({ pods, title }: { pods: UnplacedPod[]; title?: string }) {
  if (pods.length === 0) return null;
  return (
    <div role="note" className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900">
      <p className="font-medium">{title ?? `${pods.length} pods cannot be placed:`}</p>
      <ul className="mt-1 list-disc pl-5 text-xs">
        {pods.slice(0, 20).map((p) => (
          <li key={`${p.namespace}/${p.name}`}>
            {p.namespace}/{p.name}: {p.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}
