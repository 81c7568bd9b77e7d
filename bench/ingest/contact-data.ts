/**
 * Deterministic ~1 KB CRM-contact-like records. No imports: the end-to-end bench bundles this
 * into a sync script that runs in the isolate.
 */
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Torvalds'];
const CITIES = ['Lisbon', 'Berlin', 'Nairobi', 'Osaka', 'Quito', 'Tallinn', 'Lyon', 'Austin'];

export function contactRecord(n: number, version = 1): { id: string } & Record<string, unknown> {
  const first = FIRST[n % FIRST.length]!;
  const last = LAST[(n >> 3) % LAST.length]!;
  return {
    id: `contact-${n}`,
    first_name: first,
    last_name: last,
    email: `${first}.${last}.${n}@example.com`.toLowerCase(),
    phone: `+1-555-${String(n % 10_000).padStart(4, '0')}`,
    company: { id: `company-${n % 997}`, name: `${last} & Co ${n % 997}`, domain: `${last.toLowerCase()}${n % 997}.example` },
    title: n % 3 === 0 ? 'VP Engineering' : n % 3 === 1 ? 'Account Executive' : 'Head of Operations',
    address: { street: `${n % 400} Market Street`, city: CITIES[n % CITIES.length], zip: String(10_000 + (n % 89_999)), country: 'US' },
    lifecycle_stage: n % 5 === 0 ? 'customer' : 'lead',
    owner_id: `user-${n % 41}`,
    tags: ['newsletter', n % 2 ? 'webinar-2024' : 'trade-show', `segment-${n % 12}`],
    custom_fields: { score: (n * 37) % 100, source: 'import', plan: n % 4 === 0 ? 'enterprise' : 'growth' },
    notes: `Met at the conference; follow up about renewal. Prefers email. "Quoted" text\\with a backslash. `.repeat(4),
    created_at: new Date(Date.UTC(2023, 0, 1) + n * 60_000).toISOString(),
    updated_at: new Date(Date.UTC(2024, 0, 1) + n * 60_000 + version).toISOString(),
    version,
  };
}
