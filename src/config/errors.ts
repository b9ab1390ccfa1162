/**
 * Configuration errors as typed values: each names the file, line and column (docs/ARCHITECTURE.md "Configuration").
 */
import type { SourcePos } from './types.js';

/** A configuration error at a position; `toString()` gives `FILE:LINE:COL: message`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly pos: SourcePos,
    readonly detail: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: ${detail}`);
  }

  override toString(): string {
    return this.message;
  }
}
