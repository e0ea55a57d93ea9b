import { setOpenLine } from '../terminal-line.ts';

/**
 * Progress on a terminal: events done, events per second and, when the total is known, a bar and the
 * time left, redrawn in place at most a few times a second. Given no terminal (stderr piped to a file
 * or a CI log), it stays silent: progress lines are noise there. Log lines written meanwhile go above
 * the bar (src/terminal-line.ts); a phase that ends is drawn complete (100%) before the next line.
 */
export class ProgressMeter {
  private started: number;
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private lastDone = 0;

  constructor(
    private readonly out: { isTTY?: boolean; columns?: number; write(text: string): unknown } | null,
    private label: string,
    private total: number | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  get active(): boolean {
    return this.out?.isTTY === true;
  }

  /** A new phase: the previous one drawn complete, then a fresh line, label and total. */
  phase(label: string, total: number | null): void {
    this.complete(this.lastDone);
    this.lastDone = 0;
    this.label = label;
    this.total = total;
    this.started = this.now();
  }

  update(done: number, force = false): void {
    this.lastDone = done;
    if (!this.active) return;
    const now = this.now();
    if (!force && now - this.lastDrawn < 250) return;
    this.lastDrawn = now;
    this.draw(done, now);
  }

  finish(done: number): void {
    this.complete(done, true);
  }

  private draw(done: number, now = this.now()): void {
    const text = this.render(done, now);
    this.drawn = true;
    setOpenLine(this.out!, { text: () => text });
    this.out!.write(`\r${text}\u001b[K`);
  }

  /**
   * Ends the line as done: the total, an estimate from the log's positions (which can have gaps),
   * becomes what was actually done, so a finished phase reads 100%.
   */
  private complete(done: number, drawnOrNot = false): void {
    if (!this.active || !(this.drawn || drawnOrNot)) return;
    if (this.total !== null && this.total > 0) this.total = done;
    this.draw(done);
    this.out!.write('\n');
    setOpenLine(this.out!, undefined);
    this.drawn = false;
  }

  render(done: number, now = this.now()): string {
    const seconds = Math.max((now - this.started) / 1_000, 0.001);
    const rate = done / seconds;
    const parts = [this.label];
    if (this.total !== null && this.total > 0) {
      const share = Math.min(done / this.total, 1);
      const width = 24;
      const filled = Math.round(share * width);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%`);
      parts.push(`${formatCount(done)}/${formatCount(this.total)} events`);
    } else {
      parts.push(`${formatCount(done)} events`);
    }
    parts.push(`${formatCount(Math.round(rate))} events/s`);
    if (this.total !== null && this.total > done && rate > 0) parts.push(`ETA ${formatDuration((this.total - done) / rate)}`);
    return parts.join('  ');
  }
}

function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
}
