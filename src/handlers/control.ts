import { handleControlApiRequest, type ControlApiDeps } from '../domain/control-api/handle-request.js';
import { decodeBase64 } from '../domain/protocol/base64.js';
import type { ControlHandler, HttpApiEvent } from './aws-events.js';

const encoder = new TextEncoder();

/** The control API's HTTP handler (API Gateway HTTP API, payload format 2.0). */
export function makeControlHandler(deps: ControlApiDeps, afterEach: () => void = () => {}): ControlHandler {
  return async (event: HttpApiEvent) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = value;
    const raw = event.body ?? '';
    const body = event.isBase64Encoded ? (decodeBase64(raw) ?? new Uint8Array()) : encoder.encode(raw);
    const response = await handleControlApiRequest(deps, {
      method: event.requestContext?.http?.method ?? 'GET',
      path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
      query: event.rawQueryString ?? '',
      headers,
      body,
    });
    afterEach();
    return { statusCode: response.status, headers: { ...response.headers }, body: response.body };
  };
}
