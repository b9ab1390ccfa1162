/**
 * The request an internal redirect serves (RFC 3875 §6.2.2: "the server MUST generate the response that it would
 * have produced in response to a request containing the URL"): a GET (HEAD stays HEAD) of the new target, with
 * the original headers minus those of the body, which is not sent again. Pure.
 */
import type { RequestHead } from '../http/request.js';

const BODY_FIELDS = ['content-length', 'content-type', 'transfer-encoding', 'expect'];

/** `head` rewritten for `target`, a local path with an optional query. */
export function reroutedHead(head: RequestHead, target: string): RequestHead {
  const q = target.indexOf('?');
  const headers = new Map(head.headers);
  for (const name of BODY_FIELDS) headers.delete(name);
  return {
    ...head,
    method: head.method === 'HEAD' ? 'HEAD' : 'GET',
    target,
    rawPath: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    headers,
    contentLength: -1,
    chunked: false,
    expectContinue: false,
  };
}
