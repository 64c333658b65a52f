// Lambda entry: the GRIP control API (HTTP API, payload format 2.0). Built once per container, at cold start.
import { controlRuntime } from './runtime.js';

export const handler = await controlRuntime(process.env);
