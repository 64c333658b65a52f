// Lambda entry: WebSocket route `$disconnect`. Everything is built once per container, at cold start.
import { webSocketRuntime } from './runtime.js';

const handlers = await webSocketRuntime(process.env);

export const handler = handlers.disconnect;
