import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressMeter } from '../../src/cli/progress-meter.ts';
import { createLogger } from '../../src/logger.ts';

function terminal(isTTY: boolean): { isTTY: boolean; written: string[]; write(text: string): boolean } {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) > 0 };
}

describe('the progress meter', () => {
  it('draws events, events per second, a bar and the time left on a terminal', () => {
    let now = 0;
    const out = terminal(true);
    const meter = new ProgressMeter(out, 'rebuild', 1_000, () => now);
    now = 2_000;
    meter.update(250);
    expect(out.written).toHaveLength(1);
    expect(out.written[0]).toMatch(/^\r/);
    expect(meter.render(250)).toBe('rebuild  [######..................]  25%  250/1,000 events  125 events/s  ETA 6s');
  });

  it('shows no bar and no time left when the total is unknown', () => {
    let now = 0;
    const meter = new ProgressMeter(terminal(true), 'replay', null, () => now);
    now = 4_000;
    expect(meter.render(10_000)).toBe('replay  10,000 events  2,500 events/s');
  });

  it('redraws at most four times a second, and writes nothing at all when stderr is not a terminal', () => {
    let now = 0;
    const out = terminal(true);
    const meter = new ProgressMeter(out, 'x', 10, () => now);
    meter.update(1);
    now = 100;
    meter.update(2);
    now = 300;
    meter.update(3);
    expect(out.written).toHaveLength(2);
    const piped = terminal(false);
    const silent = new ProgressMeter(piped, 'x', 10, () => now);
    silent.update(5, true);
    silent.finish(10);
    expect(piped.written).toEqual([]);
  });

  it('writes durations as seconds, minutes or hours', () => {
    expect([formatDuration(7.4), formatDuration(125), formatDuration(7_260), formatDuration(Number.POSITIVE_INFINITY)]).toEqual(['7s', '2m05s', '2h01m', '?']);
  });

  it('puts a log line written during progress on a line of its own, above the bar, and draws the bar again', () => {
    const now = 0;
    const out = terminal(true);
    const meter = new ProgressMeter(out, 'catch-up', null, () => now);
    meter.update(0, true);
    const logger = createLogger({ destination: out as never, format: 'json' });
    logger.info('rebuilt projections swapped in');
    const screen = out.written.join('');
    // Erased, the log line and its newline, then the bar again: never `catch-up 0 events 0 events/s{"level":30`.
    expect(screen).not.toMatch(/events\/s\{/);
    expect(out.written.at(-1)).toMatch(/^\r\u001b\[K\{"level":30.*"msg":"rebuilt projections swapped in"\}\ncatch-up {2}0 events/);
    meter.finish(0);
    out.written.length = 0;
    logger.info('after the bar');
    expect(out.written).toEqual([expect.stringMatching(/^\{"level":30.*"msg":"after the bar"\}\n$/)]);
  });

  it('draws a phase that ends complete (100%), even on a small log where no redraw came after the first', () => {
    let now = 0;
    const out = terminal(true);
    const meter = new ProgressMeter(out, 'rebuild', null, () => now);
    meter.phase('rebuild ', 12);
    meter.update(0, true);
    now = 50;
    meter.update(12); // within 250 ms of the last drawing: not drawn
    meter.phase('catch-up', 0);
    const lines = out.written.join('').split('\n');
    expect(lines[0]!.split('\r').at(-1)).toMatch(/^rebuild +\[#{24}\] 100% {2}12\/12 events/);
    meter.update(0, true);
    meter.finish(0);
    expect(out.written.join('').split('\n')[1]!.split('\r').at(-1)).toMatch(/^catch-up {2}0 events/);
  });

  it('reads 100% at the end when the total, taken from positions with gaps, was more than the events read', () => {
    const out = terminal(true);
    const meter = new ProgressMeter(out, 'replay', 1_000, () => 0);
    meter.update(10, true);
    meter.finish(940);
    expect(out.written.join('')).toMatch(/100% {2}940\/940 events[^\n]*\n$/);
  });
});
