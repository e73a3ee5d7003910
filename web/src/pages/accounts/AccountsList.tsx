import { AwsAccountStatus } from "@spot-optimizer/sdk/gen/spot/cluster/v1/cluster_pb.js";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { formatTime } from "../../api/format";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, QueryView } from "../../components/states";
import { Badge, Button, Card } from "../../components/ui";

export function AccountsList({ onDiscover }: { onDiscover(id: string): void }) {
  const queryClient = useQueryClient();
  const [unlinking, setUnlinking] = useState<{ id: string; accountId: string } | null>(null);
  const accounts = useQuery({
    queryKey: ["aws-accounts"],
    queryFn: async () => (await api.accounts().listAwsAccounts({ page: { pageSize: 100 } })).accounts,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["aws-accounts"] });
  const verify = useMutation({ mutationFn: (id: string) => api.accounts().verifyAwsAccount({ id }), onSettled: refresh });
  const unlink = useMutation({
    mutationFn: (id: string) => api.accounts().unlinkAwsAccount({ id }),
    onSettled: () => {
      setUnlinking(null);
      void refresh();
    },
  });
  const failure = verify.error ?? unlink.error;
  return (
    <Card title="Linked accounts">
      {failure && (
        <p role="alert" className="mb-2 text-sm text-red-700">
          {errorMessage(failure)}
        </p>
      )}
      <QueryView
        query={accounts}
        feature="AWS accounts"
        isEmpty={(list) => list.length === 0}
        empty={<Empty title="No AWS accounts linked">Follow the steps to link one.</Empty>}
      >
        {(list) => (
          <ul className="divide-y divide-slate-100">
            {list.map((a) => (
              <li key={a.id} className="py-2 text-sm">
                <div className="flex flex-wrap items-center justify-between gap-2">
                  <div>
                    <span className="font-medium">{a.accountId}</span>{" "}
                    {a.status === AwsAccountStatus.VERIFIED ? <Badge tone="green">Verified</Badge> : <Badge tone="amber">Unverified</Badge>}
                    <p className="font-mono text-xs text-slate-500">{a.roleArn}</p>
                    {a.statusReason && <p className="text-xs text-red-700">{a.statusReason}</p>}
                    <p className="text-xs text-slate-500">
                      Linked {formatTime(a.linkedAt)}
                      {a.regions.length > 0 && ` · ${a.regions.length} regions`}
                    </p>
                  </div>
                  <div className="flex gap-1">
                    <Button variant="secondary" onClick={() => verify.mutate(a.id)} aria-label={`Verify account ${a.accountId}`}>
                      Verify
                    </Button>
                    <Button onClick={() => onDiscover(a.id)} aria-label={`Discover clusters in ${a.accountId}`}>
                      Discover clusters
                    </Button>
                    <Button variant="ghost" onClick={() => setUnlinking({ id: a.id, accountId: a.accountId })} aria-label={`Unlink account ${a.accountId}`}>
                      Unlink
                    </Button>
                  </div>
                </div>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
      <ConfirmDialog
        open={!!unlinking}
        title={`Unlink AWS account ${unlinking?.accountId}?`}
        confirmLabel="Unlink account"
        danger
        busy={unlink.isPending}
        onConfirm={() => unlinking && unlink.mutate(unlinking.id)}
        onCancel={() => setUnlinking(null)}
      >
        The platform forgets the account and stops using its role: no more cluster discovery through it. The IAM role itself stays in your AWS account until you delete it
        there. An account that clusters still depend on is not unlinked: remove those clusters first.
      </ConfirmDialog>
    </Card>
  );
}
