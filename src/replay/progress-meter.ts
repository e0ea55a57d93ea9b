/**
 * Progress on a terminal: events done, events per second and, when the total is known, a bar and the
 * time left, redrawn in place at most a few times a second. Given no terminal (stderr piped to a file
 * or a CI log), it stays silent: progress lines are noise there.
 */
export class ProgressMeter {
  private started: number;
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawn = false;

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

  /** A new phase: a fresh line, label and total. */
  phase(label: string, total: number | null): void {
    if (this.drawn) this.out?.write('\n');
    this.drawn = false;
    this.label = label;
    this.total = total;
    this.started = this.now();
  }

  update(done: number, force = false): void {
    if (!this.active) return;
    const now = this.now();
    if (!force && now - this.lastDrawn < 250) return;
    this.lastDrawn = now;
    this.drawn = true;
    this.out!.write(`\r${this.render(done, now)}\u001b[K`);
  }

  finish(done: number): void {
    if (!this.active) return;
    this.update(done, true);
    this.out!.write('\n');
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
