import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { CopyBlock, CopyButton } from "../../components/CopyButton";
import { TextField } from "../../components/fields";
import { QueryView } from "../../components/states";
import { Button, Card } from "../../components/ui";

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

/** The three things to paste into IAM, then the role ARN to link. */
export function LinkAccountCard() {
  const queryClient = useQueryClient();
  const instructions = useQuery({ queryKey: ["link-instructions"], queryFn: () => api.accounts().getLinkInstructions({}) });
  const [roleArn, setRoleArn] = useState("");
  const link = useMutation({
    mutationFn: () => api.accounts().linkAwsAccount({ roleArn }),
    onSuccess: () => {
      setRoleArn("");
      void queryClient.invalidateQueries({ queryKey: ["aws-accounts"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    link.mutate();
  };
  return (
    <Card title="Link an AWS account">
      <QueryView query={instructions} feature="Account linking">
        {(i) => (
          <div className="space-y-4">
            <ol className="list-decimal space-y-1 pl-5 text-sm text-slate-600">
              <li>In the AWS account, create an IAM role with the trust policy below (it requires your external id).</li>
              <li>Attach the permission policy below to the role.</li>
              <li>Paste the role's ARN here and link it; the platform verifies it at once.</li>
            </ol>
            <div>
              <span className="text-sm font-medium text-slate-700">External id</span>
              <div className="mt-1 flex items-center gap-2">
                <code aria-label="External id" className="flex-1 rounded-md bg-slate-100 px-2 py-1.5 font-mono text-sm">
                  {i.externalId}
                </code>
                <CopyButton text={i.externalId} what="external id" />
              </div>
            </div>
            <CopyBlock label="Trust policy" text={pretty(i.trustPolicyJson)} />
            <CopyBlock label="Permission policy" text={pretty(i.permissionPolicyJson)} />
            <form onSubmit={submit} className="space-y-2">
              <TextField
                label="Role ARN"
                required
                placeholder="arn:aws:iam::123456789012:role/spot-optimizer"
                value={roleArn}
                onChange={(e) => setRoleArn(e.target.value)}
                error={link.isError ? errorMessage(link.error) : undefined}
              />
              <Button type="submit" disabled={link.isPending}>
                {link.isPending ? "Linking…" : "Link account"}
              </Button>
              {link.data?.account && (
                <p role="status" className="text-sm text-emerald-700">
                  Linked account {link.data.account.accountId}.
                </p>
              )}
            </form>
          </div>
        )}
      </QueryView>
    </Card>
  );
}
