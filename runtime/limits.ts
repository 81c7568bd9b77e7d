/**
 * Limits for evaluating a bundle's top level at deploy time: it should only describe itself.
 * Evaluating a zod-bundled script takes ~100 ms of CPU; the headroom is for loaded machines
 * (a deploy must not fail because the host is busy), still far below any real run's limits.
 */
export const DESCRIBE_LIMITS = { memoryMb: 64, wallTimeMs: 15_000, cpuTimeMs: 5_000 } as const;
