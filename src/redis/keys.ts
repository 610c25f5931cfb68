/**
 * The one place that names Redis keys and channels. No key string appears anywhere else.
 *
 * Names follow the seeds (`clients`, `client:{id}`, `image:{id}`, `Clients_status`, `session:...`,
 * `rl:...`, `lock:...`, `cache:...`) under `<namespace>:`. A client's own keys
 * carry its id as a `{hash tag}` so they share a Cluster slot and one Lua script may touch them all.
 */
export type Keys = ReturnType<typeof createKeys>;

export function createKeys(namespace: string) {
  const ns = `${namespace}:`;
  const tag = (id: string) => `{${id}}`;
  return {
    namespace,
    /** Set of client ids currently seen (seed 004). */
    clients: `${ns}clients`,
    /** Sorted set: client id -> last_seen (ms), so the cleanup loop finds silent clients without scanning all. */
    clientsSeen: `${ns}clients:seen`,
    /** Hash: connected_at, last_seen, status, address, agent (seed 004). */
    client: (id: string) => `${ns}client:${tag(id)}`,
    /** Hash: the latest frame as raw bytes plus seq, ts, size, format (seed 004, bytes not base64). */
    image: (id: string) => `${ns}image:${tag(id)}`,
    /** Sorted set of clients holding a frame not yet analysed; score = when it first became ready (ms). */
    ready: `${ns}ready`,
    /** Seed 000 ClientsData: received-data queue, action queue, existence flag, metadata. */
    received: (id: string) => `${ns}received:${tag(id)}`,
    actions: (id: string) => `${ns}actions:${tag(id)}`,
    exists: (id: string) => `${ns}exists:${tag(id)}`,
    metadata: (id: string) => `${ns}metadata:${tag(id)}`,
    /** Seed 001: runtime copy of the client states. */
    clientsStatus: `${ns}Clients_status`,
    /** Status manager: the lists Clients_status and the JSON files last agreed on (base of the 3-way merge). */
    clientsStatusSynced: `${ns}Clients_status:synced`,
    /** Status manager: gateway instances holding agent connections; each owns an expiring set of client ids. */
    statusGateways: `${ns}status:gateways`,
    statusGateway: (instance: string) => `${ns}status:gateway:${instance}`,
    /** Decision history of one client (policy state). */
    history: (id: string) => `${ns}history:${tag(id)}`,
    /** Capped audit stream of every action. */
    audit: `${ns}audit`,
    /** Seed 002: descriptor of a reference image, keyed by the image's SHA-256. */
    embedding: (sha256: string) => `${ns}embedding:${sha256}`,
    /** Seed 003 patterns. */
    session: (sid: string) => `${ns}session:${sid}`,
    apiKey: (sha256: string) => `${ns}apikey:${sha256}`,
    /** Set of every API key's SHA-256 (listing and revocation in the admin API). */
    apiKeys: `${ns}apikeys`,
    /** Set of an admin's live session ids (so removing an admin ends their sessions). */
    adminSessions: (admin: string) => `${ns}admin_sessions:${admin}`,
    rateLimitPrefix: `${ns}rl`,
    lock: (name: string) => `${ns}lock:${name}`,
    cache: (name: string) => `${ns}cache:${name}`,
    cacheTag: (tagName: string) => `${ns}cache:tag:${tagName}`,
    /** Vision: sorted set of clients being analysed, score = when the lease expires (ms); one analysis per client at a time across workers and processes. */
    visionLeases: `${ns}vision:leases`,
    channels: {
      /** Published with a client id when that client's action queue has something new. */
      actions: `${ns}ch:actions`,
      /** Live events for dashboards (JSON messages). */
      events: `${ns}ch:events`,
      /** JSON {client, message}: a server message for an agent, sent by whichever gateway holds its socket. */
      agentMessages: `${ns}ch:agent-messages`,
      /** Published with a client id when its state changes (pause, block, ...). */
      status: `${ns}ch:status`,
    },
  };
}
