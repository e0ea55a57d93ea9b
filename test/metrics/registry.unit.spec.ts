import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/metrics/index.ts';

describe('the metrics registry', () => {
  it('renders counters with HELP and TYPE lines, one sample per label set, and 0 before the first increment', async () => {
    const registry = new MetricsRegistry();
    const events = registry.counter('events_total', 'Events.');
    registry.counter('untouched_total', 'Never incremented.');
    events.inc({ type: 'ChatStarted' });
    events.inc({ type: 'MessagePosted' }, 2);
    events.inc({ type: 'MessagePosted' });
    expect(await registry.render()).toBe(
      [
        '# HELP events_total Events.',
        '# TYPE events_total counter',
        'events_total{type="ChatStarted"} 1',
        'events_total{type="MessagePosted"} 3',
        '# HELP untouched_total Never incremented.',
        '# TYPE untouched_total counter',
        'untouched_total 0',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslashes, quotes and newlines in label values', async () => {
    const registry = new MetricsRegistry();
    registry.gauge('odd', 'Odd labels.', () => [{ labels: { value: 'a\\b"c\nd' }, value: 1 }]);
    expect(await registry.render()).toContain('odd{value="a\\\\b\\"c\\nd"} 1');
  });

  it('renders a histogram with cumulative buckets, +Inf, sum and count', async () => {
    const registry = new MetricsRegistry();
    const latency = registry.histogram('latency_seconds', 'Latency.', [0.01, 0.1, 1]);
    for (const value of [0.005, 0.05, 0.05, 0.5, 3]) latency.observe(value);
    const text = await registry.render();
    expect(text).toContain('# TYPE latency_seconds histogram');
    expect(text).toContain('latency_seconds_bucket{le="0.01"} 1\nlatency_seconds_bucket{le="0.1"} 3\nlatency_seconds_bucket{le="1"} 4\nlatency_seconds_bucket{le="+Inf"} 5');
    expect(text).toContain('latency_seconds_sum 3.605');
    expect(text).toContain('latency_seconds_count 5');
  });

  it('reads gauges and observed counters at scrape time, and leaves out one whose source fails', async () => {
    const registry = new MetricsRegistry();
    let open = 2;
    registry.gauge('open_things', 'Open things.', () => [{ value: open }]);
    registry.observedCounter('sent_total', 'Sent.', async () => [{ value: 7 }]);
    registry.gauge('broken', 'Broken.', () => {
      throw new Error('source down');
    });
    expect(await registry.render()).toContain('open_things 2');
    open = 5;
    const text = await registry.render();
    expect(text).toContain('open_things 5');
    expect(text).toContain('# TYPE sent_total counter\nsent_total 7');
    expect(text).not.toContain('broken');
  });

  it('refuses a metric name registered twice or outside the Prometheus name rules', () => {
    const registry = new MetricsRegistry();
    registry.counter('twice_total', 'Once.');
    expect(() => registry.counter('twice_total', 'Twice.')).toThrow(/registered twice/);
    expect(() => registry.counter('bad-name', 'Dash.')).toThrow(/invalid metric name/);
  });
});
