import type { cluster as pb } from "@spot-optimizer/sdk";
import type { NodeClass, ResourceSelector } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { api } from "../../api/clients";
import { nullIfNotFound } from "../../api/errors";
import { formatTime } from "../../api/format";
import { useAuth } from "../../auth/AuthProvider";
import { QueryView } from "../../components/states";
import { Button, Card } from "../../components/ui";
import { amiFamilyLabel, ARCHITECTURES } from "./nodeClassDraft";
import { NodeClassForm } from "./NodeClassForm";

/** Who saved the class ("user/<id>", "api_key/<id>", "service/<name>"), in a few words. */
function updatedByLabel(updatedBy: string, myId: string | undefined): string {
  const at = updatedBy.indexOf("/");
  const [kind, id] = at < 0 ? [updatedBy, ""] : [updatedBy.slice(0, at), updatedBy.slice(at + 1)];
  if (kind === "user") return id === myId ? "you" : `user ${id}`;
  if (kind === "api_key") return `API key ${id}`;
  if (kind === "service") return `the platform (${id})`;
  return "the platform";
}

const selectorText = (selector: ResourceSelector | undefined) => {
  if (!selector) return "—";
  if (selector.ids.length > 0) return selector.ids.join(", ");
  const tags = Object.entries(selector.tags).map(([key, value]) => `${key}=${value}`);
  return tags.length ? `Tagged ${tags.join(", ")}` : "—";
};

/** Where the class in force comes from, and what that means for the cluster. */
function NodeClassSource({ nodeClass, inherited }: { nodeClass: NodeClass; inherited: boolean }) {
  const { user } = useAuth();
  const who = updatedByLabel(nodeClass.updatedBy, user?.id);
  const when = formatTime(nodeClass.updatedAt);
  if (inherited) {
    return (
      <p role="note" className="mb-3 rounded-md bg-sky-50 p-2 text-sm text-sky-900">
        This cluster has no node class of its own: it uses the tenant's default (version {nodeClass.version}, saved by {who} on {when}). Saving here gives the
        cluster its own class.
      </p>
    );
  }
  if (nodeClass.source === "imported") {
    return (
      <p role="note" className="mb-3 rounded-md bg-amber-50 p-2 text-sm text-amber-900">
        Imported from the cluster's nodes when it was added: review it. The platform read these settings from the cluster's running nodes on {when}; saving them, as
        they are or changed, marks them as reviewed.
      </p>
    );
  }
  return (
    <p className="mb-3 text-sm text-slate-600">
      Saved by {who} on {when} · version {nodeClass.version}.
    </p>
  );
}

function Setting({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="text-sm break-words">{children}</dd>
    </div>
  );
}

/** The class's settings, read only. */
function NodeClassSettings({ nodeClass }: { nodeClass: NodeClass }) {
  const images = Object.entries(nodeClass.amiIds).map(([arch, image]) => `${ARCHITECTURES[arch] ?? arch}: ${image}`);
  const tags = Object.entries(nodeClass.tags).map(([key, value]) => `${key}=${value}`);
  const userDataLines = nodeClass.userData.trim() ? nodeClass.userData.trim().split("\n").length : 0;
  return (
    <dl className="grid gap-3 md:grid-cols-4">
      <Setting label="Subnets">
        <span className="font-mono text-xs">{selectorText(nodeClass.subnets)}</span>
      </Setting>
      <Setting label="Security groups">
        <span className="font-mono text-xs">{selectorText(nodeClass.securityGroups)}</span>
      </Setting>
      <Setting label="Instance profile">
        <span className="font-mono text-xs">{nodeClass.instanceProfile || "—"}</span>
      </Setting>
      <Setting label="Image">
        {amiFamilyLabel(nodeClass.amiFamily)}
        <span className="block text-xs text-slate-500">{images.length ? images.join(", ") : "The recommended image for the cluster's Kubernetes version"}</span>
      </Setting>
      <Setting label="Root volume">
        {nodeClass.rootVolumeGib} GiB {nodeClass.rootVolumeType}
      </Setting>
      <Setting label="Metadata hop limit">{nodeClass.metadataHopLimit}</Setting>
      <Setting label="Tags">
        <span className="font-mono text-xs">{tags.length ? tags.join(", ") : "None"}</span>
      </Setting>
      <Setting label="User data">
        {userDataLines === 0 ? (
          "None"
        ) : (
          <details>
            <summary className="cursor-pointer text-xs text-indigo-700">
              {userDataLines === 1 ? "1 line" : `${userDataLines} lines`}
            </summary>
            <pre className="mt-1 max-h-48 overflow-auto rounded bg-slate-50 p-2 text-xs whitespace-pre-wrap">{nodeClass.userData}</pre>
          </details>
        )}
      </Setting>
    </dl>
  );
}

/** How the cluster's new EC2 instances boot: the class in force, and its editor. */
export function NodeClassCard({ cluster }: { cluster: pb.Cluster }) {
  const [editing, setEditing] = useState(false);
  const query = useQuery({
    queryKey: ["node-class", cluster.id],
    queryFn: () => nullIfNotFound(api.nodeClasses().getNodeClass({ clusterId: cluster.id })),
  });
  return (
    <Card
      title="Node class"
      actions={
        query.data?.nodeClass && (
          <span className="text-xs text-slate-500">
            {query.data.inherited ? "Tenant default" : `Version ${query.data.nodeClass.version}`}
            {` · changed ${formatTime(query.data.nodeClass.updatedAt)}`}
          </span>
        )
      }
    >
      <QueryView query={query} feature="Node classes" loadingLabel="Loading the node class">
        {(found) => {
          const current = found?.nodeClass;
          const inherited = found?.inherited ?? false;
          return (
            <>
              {current ? (
                <NodeClassSource nodeClass={current} inherited={inherited} />
              ) : (
                <p role="note" className="mb-3 rounded-md bg-amber-50 p-2 text-sm text-amber-900">
                  This cluster has no node class, and the tenant has no default one: the platform cannot launch nodes for this cluster until one is saved. The form
                  starts from the usual setup: the subnets and security groups tagged karpenter.sh/discovery={cluster.name}, Amazon Linux 2023, a 20 GiB gp3 root
                  volume and metadata hop limit 1. Fill in the node role's instance profile, check it, then save it.
                </p>
              )}
              {current && <NodeClassSettings nodeClass={current} />}
              {current && (
                <div className="mt-3">
                  <Button variant="secondary" aria-expanded={editing} aria-controls={editing ? "node-class-editor" : undefined} onClick={() => setEditing((open) => !open)}>
                    {editing ? "Close the editor" : inherited ? "Give the cluster its own node class" : "Edit node class"}
                  </Button>
                </div>
              )}
              {(!current || editing) && (
                <NodeClassForm
                  clusterId={cluster.id}
                  clusterName={cluster.name}
                  current={current}
                  inherited={inherited}
                  onSaved={() => setEditing(true)}
                />
              )}
            </>
          );
        }}
      </QueryView>
    </Card>
  );
}
