import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressMeter } from '../../src/replay/progress-meter.ts';

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
});
