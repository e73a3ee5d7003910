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

function node(name: string, zone: string) {
  return create(common.NodeSchema, {
    name,
    providerId: `aws:///${zone}/i-${name}`,
    instanceId: `i-${name}`,
    instanceType: "m5.xlarge",
    zone,
    capacityType: common.CapacityType.ON_DEMAND,
    allocatable: { cpuMillis: 3920n, memoryMib: 14000n, pods: 58n, gpus: 0n },
    labels: { "topology.kubernetes.io/zone": zone, "node.kubernetes.io/instance-type": "m5.xlarge" },
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
    phase: common.PodPhase.RUNNING,
    labels: { app: "web" },
  });
}

/**
 * A stand-in for spot-agent on the real stream (AgentService/Session over HTTP/2): it reports a
 * small all-on-demand cluster, heartbeats, and acknowledges and completes every action it gets.
 */
export class FakeAgent {
  private outbox = new Outbox<agent.SessionRequest>();
  private abort = new AbortController();
  private heartbeat: NodeJS.Timeout | null = null;
  readonly actions: agent.Action[] = [];
  welcomed: Promise<void>;

  constructor(agentKey: string) {
    const transport = createGrpcTransport({ baseUrl: apiUrl });
    const client = createClient(agent.AgentService, transport);
    const send = (message: MessageInitShape<typeof agent.SessionRequestSchema>["message"]) => this.outbox.push(create(agent.SessionRequestSchema, { message }));
    send({ case: "hello", value: { agentVersion: "e2e-fake-agent", kubernetesVersion: "v1.30.0" } });
    const nodes = [node("e2e-a", "us-east-1a"), node("e2e-b", "us-east-1b"), node("e2e-c", "us-east-1c")];
    const pods = ["web-0", "web-1", "web-2", "web-3"].map((name, i) => pod(name, nodes[i % nodes.length].name));
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
            send({ case: "snapshot", value: { nodes, pods, pdbs: [] } });
            this.heartbeat = setInterval(() => send({ case: "heartbeat", value: { at: timestampNow() } }), 5_000);
            onWelcome();
          } else if (message.case === "action") {
            this.actions.push(message.value);
            send({ case: "ack", value: { actionId: message.value.id } });
            send({ case: "result", value: { actionId: message.value.id, outcome: agent.ActionOutcome.SUCCEEDED, message: "done by the e2e agent" } });
          }
        }
      } catch (error) {
        onFail(error);
      }
    })();
  }

  stop() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.outbox.close();
    this.abort.abort();
  }
}
