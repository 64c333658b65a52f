/**
 * Differences we accept, each with its reason. A scenario whose outcomes differ is `documented` (not a failure)
 * only if it is listed here and, when the entry names `expectUs`, our outcome is exactly that string: the entry
 * pins what we must do instead, so a regression still shows as `differs`.
 *
 * Two kinds of entries:
 * - Pushpin 1.36 (what Debian ships and what this suite runs) predates or contradicts the upstream rule we
 *   implement (docs/pushpin-semantics.md §0): `expectUs` is the upstream outcome.
 * - API Gateway makes Pushpin's behaviour impossible on AWS: the README's difference list says what to do instead.
 */
import type { Verdict } from './report.js';

export interface DocumentedDifference {
  readonly reason: string;
  /** The outcome we must produce; absent = any outcome is accepted. */
  readonly expectUs?: string;
}

export const DOCUMENTED: Readonly<Record<string, DocumentedDifference>> = {
  'detach.client-close': {
    reason:
      'API Gateway answers a client close handshake itself, echoing the client’s code (the local gateway does the same); Pushpin answers a detached client’s close with 1000. The backend hears nothing in both.',
    expectUs: 'close handshake completed: 4003; backend then got: nothing',
  },
  'security.dot-segments': {
    reason:
      'deliberate (issue 10): a client path with dot segments in any spelling is refused with 400 before the backend is asked, so no client can make the server send a signed request outside TARGET_URL’s prefix; Pushpin forwards the raw path and leaves it to the backend',
    expectUs: 'handshake 400; backend requests under the route: 0',
  },
  'security.meta-spelling': {
    reason:
      'deliberate (issue 10): client headers spelled so that CGI/WSGI stacks or proxies fold them into Meta-*, Grip-* or Connection-Id (Meta_User, Meta.User) are stripped; Pushpin strips only the hyphenated spellings',
    expectUs: 'backend got Meta_User: no',
  },
  'filters.too-many': {
    reason: 'Pushpin 1.36 accepts any number of filters; upstream 1.41+ closes the client with 1011 above 5 (MESSAGEFILTERSTACK_SIZE_MAX)',
    expectUs: 'closed 1011',
  },
  'filters.require-sub': {
    reason:
      "Pushpin 1.36 gives WebSocket subscribers an empty subscription list, so require-sub drops every item that names one; upstream 1.41+ checks the connection's subscriptions",
    expectUs: 'subscribed to it: req; not subscribed: nothing',
  },
  'ordered.batching': {
    reason:
      'local mode only: fauxqs 1.9.2 hands out one message per FIFO group per ReceiveMessage (SQS hands out up to 10 of one group, in order), so the lane consumer sees one waiting message at a time and sends one per request; on AWS the waiting messages arrive in one batch and go in one request, as with Pushpin (docs/local-services.md)',
    expectUs: 'messages per request: 1+1+1+1+1+1+1+1+1+1',
  },
  'keepalive.ping': {
    reason:
      'API Gateway cannot send ping or pong frames (the Management API posts data frames only), so a keep-alive with message-type ping/pong is refused with a logged reason on AWS, and local mode does the same rather than behave in a way AWS cannot; use a text keep-alive (README, "Compatibility with Pushpin")',
    expectUs: 'client got no ping frames; backend got no PONG events',
  },
  'woh.backend-error': {
    reason:
      'deliberate: when the backend fails a message (after retries) Pushpin drops the client without a close frame (1006); we close it with 1011 and a reason, so the client can tell a server error from a network drop. On AWS, API Gateway closes it with 1000 either way (the Management API cannot send a code)',
    expectUs: "client closed 1011 'invalid backend reply'",
  },
  'woh.refresh': {
    reason:
      "the publish refresh action arrived in Pushpin 1.38 (1.36 answers 400); upstream makes each subscriber's session send a request now",
    expectUs: 'publish 200; backend got an empty request',
  },
  'woh.content-bytes-accepted': {
    reason:
      'Content-Bytes-Accepted arrived in Pushpin 1.41 (1.36 ignores it); upstream offers the unaccepted bytes again with the next request',
    expectUs: 'next request: TEXT llo, TEXT X',
  },
  'woh.invalid-control-message': {
    reason: 'Pushpin 1.36 never acks an invalid control message and drops the connection 8 s later; upstream ignores the message',
    expectUs: 'open after 10 s',
  },
};

/**
 * `same` when the outcomes are equal; `documented` when they differ, the scenario is listed, and our outcome is
 * the listed `expectUs` (if any); otherwise `differs` (with the expected outcome, for a listed scenario).
 */
export function verdictOf(
  id: string,
  pushpin: string,
  us: string,
  documented: Readonly<Record<string, DocumentedDifference>> = DOCUMENTED,
): { verdict: Verdict; reason?: string } {
  if (pushpin === us) return { verdict: 'same' };
  const entry = documented[id];
  if (entry && (entry.expectUs === undefined || entry.expectUs === us)) return { verdict: 'documented', reason: entry.reason };
  return entry ? { verdict: 'differs', reason: `documented, but we must produce: ${entry.expectUs ?? ''}` } : { verdict: 'differs' };
}
