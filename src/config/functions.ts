/**
 * The functions and what each may touch, once. The stack turns each row of `handlerAccess` into environment
 * variables and least-privilege grants (`infrastructure/lib/handler-function.ts`); the composition roots turn the
 * same row into the function's dependencies (`src/functions/`), so a function is never told about a resource it
 * may not use, and never builds one it was not granted.
 *
 * Adding a function: a row here, its composition function in `src/functions/`, its Lambda entry in
 * `src/handlers/aws/`, and where it is triggered (the stack, and local mode). Adding a resource: an entry in
 * `resourceSettings`, the access field that grants it, and its adapter in both platforms.
 */
import type { SettingTable, SettingValues } from './settings.js';

/** The Lambda entry files, `src/handlers/aws/<name>.ts`, each exporting `handler`. */
export const lambdaEntries = ['ws-connect', 'ws-message', 'ws-disconnect', 'control', 'fanout-worker'] as const;
export type HandlerName = (typeof lambdaEntries)[number];

/** A queue a function may send to. */
export type QueueLane = 'ordered' | 'delayed' | 'delayedDeadLetter' | 'clientMessages';

/**
 * What a function may touch. Each entry yields the environment variable naming the resource (`resourceSettings`),
 * the grant on it, and the adapter the composition root builds.
 */
export interface HandlerAccess {
  /** `items`: the table's items. `itemsAndChannelIndex`: also Query on the channel index. → `TABLE_NAME` */
  readonly table?: 'items' | 'itemsAndChannelIndex';
  /** The channel history: `readWrite` records and replays (the worker), `read` serves history reads. → `HISTORY_TABLE_NAME` */
  readonly history?: 'read' | 'readWrite';
  /** Read the GRIP key. → `GRIP_KEY_SECRET_ARN` */
  readonly gripKey?: boolean;
  /** Call the backend. → `TARGET_URL`, `GRIP_ISS` (`backendSettings`) */
  readonly backend?: boolean;
  /** Know the issuer of the Grip-Sig tokens the server signs, to refuse them as control credentials. → `GRIP_ISS` */
  readonly gripSigIssuer?: boolean;
  /** Send to these queues. → `ORDERED_QUEUE_URL`, `DELAYED_QUEUE_URL`, `DELAYED_DLQ_URL` */
  readonly sendTo?: readonly QueueLane[];
  /** `execute-api:ManageConnections` on this stage only. → `MANAGEMENT_API_ENDPOINT` */
  readonly manageConnections?: boolean;
}

/** Each function's access. Consuming the source queues is granted by the worker's event source mappings. */
export const handlerAccess = {
  // DELAYED_QUEUE_URL: an OPEN reply's keep-alive schedules its first heartbeat on the delayed lane.
  'ws-connect': { table: 'items', gripKey: true, backend: true, sendTo: ['ordered', 'delayed'] },
  // ws-message schedules keep-alives (delayed) and queues client messages on the ordered lane it also consumes;
  // what it sends to its own connection goes straight out.
  'ws-message': { table: 'items', gripKey: true, backend: true, sendTo: ['delayed', 'clientMessages'], manageConnections: true },
  'ws-disconnect': { table: 'items', gripKey: true, backend: true },
  control: { gripKey: true, gripSigIssuer: true, sendTo: ['ordered'], history: 'read' },
  'fanout-worker': {
    table: 'itemsAndChannelIndex',
    history: 'readWrite',
    // clientMessages: Keep-Alive-Interval polls and publish refreshes queue empty requests on the connection's lane.
    sendTo: ['ordered', 'delayed', 'delayedDeadLetter', 'clientMessages'],
    manageConnections: true,
  },
} as const satisfies Record<HandlerName, HandlerAccess>;

const nonEmpty = /^\S+$/;

/**
 * The environment variables that name a function's resources: set by the stack from its constructs, read by the
 * Lambda composition root (`src/functions/aws.ts`) with the settings reader.
 */
export const resourceSettings = {
  tableName: {
    type: 'string',
    env: 'TABLE_NAME',
    pattern: /^[A-Za-z0-9_.-]{3,255}$/,
    allowed: 'a DynamoDB table name',
    description: 'The Connections table.',
  },
  historyTableName: {
    type: 'string',
    env: 'HISTORY_TABLE_NAME',
    pattern: /^[A-Za-z0-9_.-]{3,255}$/,
    allowed: 'a DynamoDB table name',
    description: 'The History table (channel history for resume and history reads).',
  },
  gripKeySecretArn: {
    type: 'string',
    env: 'GRIP_KEY_SECRET_ARN',
    pattern: nonEmpty,
    allowed: 'a secret ARN',
    description: 'The Secrets Manager secret holding the GRIP key.',
  },
  // Queue URLs are opaque here (fauxqs's are not even valid WHATWG URLs); SQS checks them.
  orderedQueueUrl: {
    type: 'string',
    env: 'ORDERED_QUEUE_URL',
    pattern: nonEmpty,
    allowed: 'a queue URL',
    description: 'The FIFO fan-out queue.',
  },
  delayedQueueUrl: {
    type: 'string',
    env: 'DELAYED_QUEUE_URL',
    pattern: nonEmpty,
    allowed: 'a queue URL',
    description: 'The standard queue for delayed jobs.',
  },
  delayedDeadLetterQueueUrl: {
    type: 'string',
    env: 'DELAYED_DLQ_URL',
    pattern: nonEmpty,
    allowed: 'a queue URL',
    description: "The delayed queue's dead-letter queue, where the worker dead-letters deliveries out of attempts.",
  },
  clientMessagesQueueUrl: {
    type: 'string',
    env: 'CLIENT_MESSAGES_QUEUE_URL',
    pattern: nonEmpty,
    allowed: 'a queue URL',
    description: 'The FIFO lane of client messages (`clientMessages: ordered`).',
  },
  managementApiEndpoint: {
    type: 'url',
    env: 'MANAGEMENT_API_ENDPOINT',
    description: "The WebSocket stage's callback URL (API Gateway Management API).",
  },
} as const satisfies SettingTable;

export type ResourceName = keyof typeof resourceSettings;
export type ResourceValues = SettingValues<typeof resourceSettings>;

/** The resource each queue lane is. */
export const laneResource = {
  ordered: 'orderedQueueUrl',
  delayed: 'delayedQueueUrl',
  delayedDeadLetter: 'delayedDeadLetterQueueUrl',
  clientMessages: 'clientMessagesQueueUrl',
} as const satisfies Record<QueueLane, ResourceName>;

/** The resources `access` names to its function, one environment variable each. */
export function resourcesOf(access: HandlerAccess): ResourceName[] {
  return [
    ...(access.table ? (['tableName'] as const) : []),
    ...(access.history ? (['historyTableName'] as const) : []),
    ...(access.gripKey ? (['gripKeySecretArn'] as const) : []),
    ...(access.sendTo ?? []).map((lane) => laneResource[lane]),
    ...(access.manageConnections ? (['managementApiEndpoint'] as const) : []),
  ];
}
