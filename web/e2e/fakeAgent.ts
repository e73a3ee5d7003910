import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { agent, common } from "@spot-optimizer/sdk";

/** Where native gRPC reaches the platform: the API's origin (the app's, unless split in dev). */
export const apiUrl = process.env.SPOT_E2E_API_URL ?? process.env.SPOT_E2E_URL ?? "";

/** An async queue the bidi stream reads its outgoing messages from. */
class Outbox<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;
  push(item: T) {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
    } else this.items.push(item);
  }
  close() {
    this.closed = true;
    this.waiting?.({ value: undefined, done: true });
  }
  // A generator: the stream needs return() and throw() as well as next().
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      const next = await new Promise<IteratorResult<T>>((resolve) => (this.waiting = resolve));
      if (next.done) return;
      yield next.value;
    }
  }
}

/** A cloud instance as the stand-in kubelet reports it once it has joined. */
export interface Instance {
  instanceId: string;
  instanceType: string;
  zone: string;
  capacityType: common.CapacityType;
}

function node(name: string, instance: Instance) {
  const { instanceId, instanceType, zone, capacityType } = instance;
  return create(common.NodeSchema, {
    name,
    providerId: `aws:///${zone}/${instanceId}`,
    instanceId,
    instanceType,
    zone,
    capacityType,
    allocatable: { cpuMillis: 3920n, memoryMib: 14000n, pods: 58n, gpus: 0n },
    labels: { "topology.kubernetes.io/zone": zone, "node.kubernetes.io/instance-type": instanceType },
    ready: true,
    createdAt: timestampNow(),
  });
}

function pod(name: string, nodeName: string) {
  return create(common.PodSchema, {
    namespace: "shop",
    name,
    uid: `uid-${name}`,
    requests: { cpuMillis: 500n, memoryMib: 1024n, pods: 1n, gpus: 0n },
    ownerKind: "ReplicaSet",
    nodeName,
    phase: nodeName ? common.PodPhase.RUNNING : common.PodPhase.PENDING,
    labels: { app: "web" },
  });
}

const POD_NAMES = ["web-0", "web-1", "web-2", "web-3"];

/** What the agent reports first: its nodes and pods. */
export interface ClusterShape {
  nodes: common.Node[];
  pods: common.Pod[];
}

/**
 * Three on-demand m5.xlarge nodes the cloud never launched (so nothing can terminate them) and
 * four pods on them.
 */
export function threeOnDemandNodes(): ClusterShape {
  const onDemand = (name: string, zone: string) => node(name, { instanceId: `i-${name}`, instanceType: "m5.xlarge", zone, capacityType: common.CapacityType.ON_DEMAND });
  const nodes = [onDemand("e2e-a", "us-east-1a"), onDemand("e2e-b", "us-east-1b"), onDemand("e2e-c", "us-east-1c")];
  return { nodes, pods: POD_NAMES.map((name, i) => pod(name, nodes[i % nodes.length].name)) };
}

/** A new cluster: no nodes yet, four pods waiting for capacity. */
export function onlyPendingPods(): ClusterShape {
  return { nodes: [], pods: POD_NAMES.map((name) => pod(name, "")) };
}

type Message = MessageInitShape<typeof agent.SessionRequestSchema>["message"];

/**
 * A stand-in for spot-agent on the real stream (AgentService/Session over HTTP/2): it reports a
 * small cluster, heartbeats, and acknowledges and completes every action it gets. Instances the
 * cloud launched join as Ready nodes when told (`join`), and pending pods are scheduled on them.
 */
export class FakeAgent {
  private outbox = new Outbox<agent.SessionRequest>();
  private abort = new AbortController();
  private heartbeat: NodeJS.Timeout | null = null;
  readonly nodes: common.Node[] = [];
  private pods: common.Pod[] = [];
  welcomed: Promise<void>;

  constructor(agentKey: string, shape: ClusterShape = threeOnDemandNodes()) {
    const transport = createGrpcTransport({ baseUrl: apiUrl });
    const client = createClient(agent.AgentService, transport);
    this.send({ case: "hello", value: { agentVersion: "e2e-fake-agent", kubernetesVersion: "v1.30.0" } });
    this.nodes.push(...shape.nodes);
    this.pods = shape.pods;
    let onWelcome: () => void = () => {};
    let onFail: (error: unknown) => void = () => {};
    this.welcomed = new Promise((resolve, reject) => {
      onWelcome = resolve;
      onFail = reject;
    });
    const responses = client.session(this.outbox, { headers: { authorization: `Bearer ${agentKey}` }, signal: this.abort.signal });
    (async () => {
      try {
        for await (const response of responses) {
          const message = response.message;
          if (message.case === "welcome") {
            this.send({ case: "snapshot", value: { nodes: this.nodes, pods: this.pods, pdbs: [] } });
            this.heartbeat = setInterval(() => this.send({ case: "heartbeat", value: { at: timestampNow() } }), 5_000);
            onWelcome();
          } else if (message.case === "action") {
            this.send({ case: "ack", value: { actionId: message.value.id } });
            this.send({ case: "result", value: { actionId: message.value.id, outcome: agent.ActionOutcome.SUCCEEDED, message: "done by the e2e agent" } });
          }
        }
      } catch (error) {
        onFail(error);
      }
    })();
  }

  /** The instances become Ready nodes (named like EC2's), and pending pods run on them. */
  join(instances: Instance[]) {
    const joined = instances.map((instance) => node(`ip-${instance.instanceId.replace(/^i-/, "")}.ec2.internal`, instance));
    this.nodes.push(...joined);
    const scheduled = this.pods.filter((p) => !p.nodeName).map((p, i) => pod(p.name, joined[i % joined.length].name));
    this.pods = this.pods.map((p) => scheduled.find((s) => s.name === p.name) ?? p);
    this.send({ case: "delta", value: { upsertedNodes: joined, upsertedPods: scheduled } });
  }

  private send(message: Message) {
    this.outbox.push(create(agent.SessionRequestSchema, { message }));
  }

  stop() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.outbox.close();
    this.abort.abort();
  }
}
