/** Limits for evaluating a bundle's top level at deploy time: it should only describe itself. */
export const DESCRIBE_LIMITS = { memoryMb: 64, wallTimeMs: 2000, cpuTimeMs: 1000 } as const;
