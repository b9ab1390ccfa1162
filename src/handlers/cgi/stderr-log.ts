/**
 * A script's stderr, line by line into the error log, bounded: a chatty or hostile script cannot flood the log.
 */

/** stderr bytes written to the error log per script, and the longest line kept. */
const BUDGET = 16 * 1024;
const LINE_MAX = 1024;

/** The stderr of one script. */
export class StderrLog {
  private line = '';
  private budget = BUDGET;

  constructor(private readonly log: (message: string) => void) {}

  /** A chunk of stderr. */
  push(chunk: Buffer): void {
    if (this.budget <= 0) return;
    this.line += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.line.indexOf('\n')) >= 0) {
      this.emit(this.line.slice(0, nl));
      this.line = this.line.slice(nl + 1);
      if (this.budget <= 0) return;
    }
    if (this.line.length > LINE_MAX) {
      this.emit(this.line);
      this.line = '';
    }
  }

  /** stderr ended (or the script was killed): logs a last partial line. */
  flush(): void {
    if (this.line !== '' && this.budget > 0) this.emit(this.line);
    this.line = '';
  }

  private emit(line: string): void {
    const text = line.replace(/\r$/, '').slice(0, LINE_MAX);
    this.budget -= text.length + 1;
    this.log(`stderr: ${text}`);
    if (this.budget <= 0) {
      this.line = '';
      this.log('stderr: (further output dropped)');
    }
  }
}
