export { LakechatMetrics, type MetricSources } from './lakechat-metrics.ts';
export { MetricsRegistry, Counter, Histogram, Observed, type GaugeSample, type Labels } from './registry.ts';
export { InstrumentedEventStore } from './instrumented-event-store.ts';
