export { InstrumentedEventStore } from './instrumented-event-store.ts';
export { LakechatMetrics, type MetricSources } from './lakechat-metrics.ts';
