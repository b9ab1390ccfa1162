/**
 * What a location's access control is made of (docs/ARCHITECTURE.md "Access control"): the address rules, basic
 * authentication, `satisfy`, and the request and connection limits, each resolved with nginx's inheritance.
 */
import type { SourcePos } from '../config/types.js';
import type { AccessRule } from './cidr.js';
import type { UserTable } from './htpasswd.js';

/** `limit_req rate=… [burst=N] [nodelay]`: its own zone, named by where it was written. */
export interface LimitReq {
  /** Requests per millisecond, as nginx keeps it (in thousandths: rate × 1000 per second). */
  readonly perSecond: number;
  readonly burst: number;
  readonly nodelay: boolean;
  /** The zone's identity: the directive's position (a location inheriting it shares the zone). */
  readonly zone: string;
}

/** `limit_conn N`: its own zone, named by where it was written. */
export interface LimitConn {
  readonly max: number;
  readonly zone: string;
}

/** `auth_basic_user_file PATH`, checked at load. */
export interface UserFileRef {
  readonly path: string;
  /** The table read at load (the file is read again when it changes). */
  readonly table: UserTable;
  readonly pos: SourcePos;
}

/** The access control of one location (or of a server, for requests no location matches). */
export interface AccessPolicy {
  /** `allow`/`deny` in order; a level with any rule replaces the outer level's (nginx). */
  readonly rules: readonly AccessRule[];
  /** `auth_basic "realm"`; null for off (the default). */
  readonly realm: string | null;
  readonly userFile: UserFileRef | null;
  /** `satisfy any`: either the address rules or the password lets a request in; default all (both). */
  readonly satisfyAny: boolean;
  readonly limitReq: LimitReq | null;
  /** `limit_req_status`, default 429 (nginx: 503; see README). */
  readonly limitReqStatus: number;
  readonly limitConn: LimitConn | null;
  /** `limit_conn_status`, default 429 (nginx: 503). */
  readonly limitConnStatus: number;
}

/** One level's directives as written (undefined: not written there, inherit). */
export interface AccessDraft {
  rules: AccessRule[];
  realm?: string | null;
  userFile?: UserFileRef | null;
  satisfyAny?: boolean;
  limitReq?: LimitReq | null;
  limitReqStatus?: number;
  limitConn?: LimitConn | null;
  limitConnStatus?: number;
}

/** The policy with nothing written anywhere. */
export const OPEN_POLICY: AccessPolicy = {
  rules: [],
  realm: null,
  userFile: null,
  satisfyAny: false,
  limitReq: null,
  limitReqStatus: 429,
  limitConn: null,
  limitConnStatus: 429,
};

/** `inner` written inside `outer`: each directive the inner level does not write is inherited (nginx's merge). */
export function mergePolicy(inner: AccessDraft, outer: AccessPolicy): AccessPolicy {
  return {
    rules: inner.rules.length > 0 ? inner.rules : outer.rules,
    realm: inner.realm !== undefined ? inner.realm : outer.realm,
    userFile: inner.userFile !== undefined ? inner.userFile : outer.userFile,
    satisfyAny: inner.satisfyAny ?? outer.satisfyAny,
    limitReq: inner.limitReq !== undefined ? inner.limitReq : outer.limitReq,
    limitReqStatus: inner.limitReqStatus ?? outer.limitReqStatus,
    limitConn: inner.limitConn !== undefined ? inner.limitConn : outer.limitConn,
    limitConnStatus: inner.limitConnStatus ?? outer.limitConnStatus,
  };
}

/** Whether a policy asks for anything at all (most locations: no, and they skip the gate). */
export function isOpen(p: AccessPolicy): boolean {
  return p.rules.length === 0 && p.realm === null && p.limitReq === null && p.limitConn === null;
}
