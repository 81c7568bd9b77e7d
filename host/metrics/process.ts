/**
 * This process's own figures (the one answering the scrape): CPU, memory, heap, event-loop
 * delay, uptime. Named as Prometheus' client libraries name them, so stock dashboards work.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricFamily } from './prometheus.ts';

let loopDelay: ReturnType<typeof monitorEventLoopDelay> | null = null;
const startedAt = Date.now() / 1000 - process.uptime();

export function processFamilies(): MetricFamily[] {
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
  const delay = loopDelay.count > 0 ? loopDelay.mean / 1e9 : 0;
  const max = loopDelay.count > 0 ? loopDelay.max / 1e9 : 0;
  loopDelay.reset();
  return [
    { name: 'process_cpu_user_seconds_total', help: 'User CPU time of this process.', type: 'counter', samples: [{ value: cpu.user / 1e6 }] },
    { name: 'process_cpu_system_seconds_total', help: 'System CPU time of this process.', type: 'counter', samples: [{ value: cpu.system / 1e6 }] },
    { name: 'process_cpu_seconds_total', help: 'User and system CPU time of this process.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
    gauge('process_resident_memory_bytes', 'Resident memory of this process.', memory.rss),
    gauge('process_start_time_seconds', 'When this process started, in seconds since the epoch.', Math.round(startedAt)),
    gauge('nodejs_heap_size_total_bytes', 'V8 heap size of this process.', memory.heapTotal),
    gauge('nodejs_heap_size_used_bytes', 'V8 heap in use by this process.', memory.heapUsed),
    gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript (buffers) in this process.', memory.external),
    gauge('nodejs_eventloop_lag_seconds', 'Mean event-loop delay since the previous scrape.', delay),
    gauge('nodejs_eventloop_lag_max_seconds', 'Longest event-loop delay since the previous scrape.', max),
  ];
}
