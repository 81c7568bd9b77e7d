export { createMetricsCollector, RUN_DURATION_BUCKETS, type MetricsCollector } from './collect.ts';
export { PROMETHEUS_CONTENT_TYPE, renderMetrics, type HistogramSample, type MetricFamily, type Sample } from './prometheus.ts';
