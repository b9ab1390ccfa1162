/**
 * Typed shapes of nginx's routing directives (issue 17): location modifiers, the rewrite phase (`rewrite`,
 * `return`), `try_files`, `error_page URI`, `add_header` and `expires`. Values come from validate.ts through
 * config/routing.ts; the router and the response path read them.
 */

/** A piece of directive text: literal text, a named variable (`$uri`, `$arg_id`), or a regex capture (`$1`). */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly name: string }
  | { readonly kind: 'capture'; readonly index: number };

/** Directive text with variables, split once at load time and expanded per request (router/variables.ts). */
export interface Template {
  /** As written, for messages. */
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

/** How a location is matched (nginx's `location [=|^~|~|~*] PATH`). */
export type LocationMatch =
  /** No modifier: a prefix at a segment boundary (the seed's rule). */
  | { readonly kind: 'prefix' }
  /** `^~ PREFIX`: a plain string prefix that, when it is the longest, stops the regex search. */
  | { readonly kind: 'stop' }
  /** `= PATH`: exactly this path. */
  | { readonly kind: 'exact' }
  /** `~ RE` or `~* RE` (case-insensitive): tried in file order after the prefixes. */
  | { readonly kind: 'regex'; readonly regex: RegExp };

/** One directive of the rewrite phase, run in the order written (nginx's ngx_http_rewrite_module). */
export type RewriteOp =
  | {
      readonly kind: 'rewrite';
      readonly regex: RegExp;
      readonly replacement: Template;
      /** `last`: search the locations again; `break`: stop here; `redirect` 302; `permanent` 301; none: go on. */
      readonly flag: 'last' | 'break' | 'redirect' | 'permanent' | null;
    }
  | {
      readonly kind: 'return';
      readonly code: number;
      /** The URL (redirect codes) or the body text; null for neither. */
      readonly text: Template | null;
    };

/** `try_files A B ... LAST`: the candidates, and what happens when none exists. */
export interface TryFiles {
  /** Candidate URIs; one ending in "/" must be a directory. */
  readonly candidates: readonly Template[];
  /** An internal redirect to this URI (with an optional query), or the status of `=CODE`. */
  readonly fallback:
    { readonly kind: 'uri'; readonly uri: Template } | { readonly kind: 'code'; readonly code: number };
}

/** `error_page CODE... [=[CODE]] URI`: an internal redirect on these statuses. */
export interface ErrorRedirect {
  /** Local URI with an optional query, or an absolute URL (then a 302 redirect). */
  readonly uri: string;
  /** The answer's status: the original error (null), the target's (`=`: "target"), or this one (`=CODE`). */
  readonly status: number | 'target' | null;
}

/** `add_header NAME VALUE [always]`. */
export interface AddHeader {
  readonly name: string;
  readonly value: Template;
  /** Added whatever the status; otherwise only on 200, 201, 204, 206, 301, 302, 303, 304, 307, 308. */
  readonly always: boolean;
}

/** `expires TIME|epoch|max|off`: seconds from now (negative: no-cache), the epoch, the maximum, or nothing. */
export type Expires =
  | { readonly kind: 'off' }
  | { readonly kind: 'epoch' }
  | { readonly kind: 'max' }
  | { readonly kind: 'time'; readonly seconds: number };
