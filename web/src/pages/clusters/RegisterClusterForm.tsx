import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api } from "../../api/clients";
import { errorMessage } from "../../api/errors";
import { TextField } from "../../components/fields";
import { Button, Card } from "../../components/ui";
import { InstallCommand } from "./InstallCommand";

/** Registers a cluster by name and region and shows its agent install command once. */
export function RegisterClusterForm() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [region, setRegion] = useState("us-east-1");
  const [awsAccountId, setAwsAccountId] = useState("");
  const register = useMutation({
    mutationFn: () => api.clusters().registerCluster({ name, region, awsAccountId }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["clusters"] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    register.mutate();
  };
  return (
    <Card title="Register a cluster">
      {register.data ? (
        <div className="space-y-3">
          <p className="text-sm">
            <Link to={`/clusters/${register.data.cluster?.id}`} className="font-medium text-indigo-700 underline">
              {register.data.cluster?.name}
            </Link>{" "}
            is registered. Install the agent in it:
          </p>
          <InstallCommand agentKey={register.data.agentKey} command={register.data.installCommand} />
          <Button variant="secondary" onClick={() => register.reset()}>
            Register another
          </Button>
        </div>
      ) : (
        <form onSubmit={submit} className="space-y-3">
          <TextField label="Cluster name" required value={name} onChange={(e) => setName(e.target.value)} />
          <TextField label="Region" required value={region} onChange={(e) => setRegion(e.target.value)} hint="The AWS region, e.g. us-east-1." />
          <TextField label="AWS account id (optional)" value={awsAccountId} onChange={(e) => setAwsAccountId(e.target.value)} />
          {register.isError && (
            <p role="alert" className="text-sm text-red-700">
              {errorMessage(register.error)}
            </p>
          )}
          <Button type="submit" disabled={register.isPending}>
            {register.isPending ? "Registering…" : "Register cluster"}
          </Button>
        </form>
      )}
    </Card>
  );
}
