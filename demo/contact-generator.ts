/**
 * Deterministic, realistic CRM contacts (~1 KB of JSON each): the same seed gives the same people,
 * so tests and demos can reason about the data without storing fixtures.
 */
export interface Contact {
  id: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string | null;
  company: string | null;
  title: string | null;
  address: { street: string; city: string; region: string; postal_code: string; country: string } | null;
  tags: string[];
  notes: string;
  created_at: string;
  updated_at: string;
}

const FIRST_NAMES = ['Ada', 'Grace', 'Linus', 'Margaret', 'Alan', 'Barbara', 'Dennis', 'Frances', 'Ken', 'Radia', 'Guido', 'Hedy', 'Tim', 'Katherine', 'Edsger', 'Sophie', 'Yukihiro', 'Anita', 'Bjarne', 'Joan'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Turing', 'Liskov', 'Ritchie', 'Allen', 'Thompson', 'Perlman', 'van Rossum', 'Lamarr', 'Berners-Lee', 'Johnson', 'Dijkstra', 'Wilson', 'Matsumoto', 'Borg', 'Stroustrup', 'Clarke'];
const COMPANIES = ['Acme Logistics', 'Globex', 'Initech', 'Umbrella Health', 'Hooli', 'Stark Industries', 'Wayne Foods', 'Soylent Labs', 'Vandelay Imports', 'Tyrell Systems'];
const TITLES = ['Head of Operations', 'VP Engineering', 'Procurement Lead', 'CTO', 'Account Manager', 'Data Analyst', 'Office Manager', 'Product Owner', 'CFO', 'Support Lead'];
const CITIES: ReadonlyArray<[city: string, region: string, country: string]> = [
  ['Lyon', 'Auvergne-Rhône-Alpes', 'FR'], ['Austin', 'TX', 'US'], ['Leeds', 'West Yorkshire', 'GB'], ['Porto', 'Norte', 'PT'],
  ['Kraków', 'Lesser Poland', 'PL'], ['Osaka', 'Kansai', 'JP'], ['Denver', 'CO', 'US'], ['Ghent', 'East Flanders', 'BE'],
];
const STREETS = ['Market Street', 'Rue de la République', 'Harbour Road', 'Elm Avenue', 'Station Square', 'Mill Lane'];
const TAGS = ['customer', 'prospect', 'partner', 'vip', 'newsletter', 'churn-risk', 'enterprise', 'smb', 'trial', 'renewal-q3'];
const NOTE_SENTENCES = [
  'Met at the spring trade fair; interested in the annual plan.',
  'Prefers email over phone calls, mornings only.',
  'Asked for a security questionnaire and the latest SOC 2 report.',
  'Budget approved for next quarter, waiting on legal review.',
  'Migrating from a spreadsheet-based process, wants CSV import.',
  'Referred by an existing customer in the same region.',
  'Follow up after the product webinar with the recording link.',
  'Evaluating two competitors; price is the main concern.',
  'Needs SSO and audit logs before rolling out to the whole team.',
  'Renewal discussion scheduled, expansion to two more sites likely.',
];

/** A small seeded PRNG (mulberry32): fast, good enough for fake data, reproducible. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

export function pick<T>(random: Random, items: ReadonlyArray<T>): T {
  return items[Math.floor(random() * items.length)] as T;
}

function pickSome<T>(random: Random, items: ReadonlyArray<T>, max: number): T[] {
  const count = 1 + Math.floor(random() * max);
  return [...new Set(Array.from({ length: count }, () => pick(random, items)))];
}

export function contactId(sequence: number): string {
  return `ct_${String(sequence).padStart(6, '0')}`;
}

export function randomNotes(random: Random): string {
  return pickSome(random, NOTE_SENTENCES, 6).join(' ');
}

export function randomTitle(random: Random): string {
  return pick(random, TITLES);
}

export function randomPhone(random: Random): string {
  return `+1-555-${String(Math.floor(random() * 10_000)).padStart(4, '0')}-${String(Math.floor(random() * 1000)).padStart(3, '0')}`;
}

export function generateContact(random: Random, sequence: number, createdAt: Date, updatedAt: Date): Contact {
  const first = pick(random, FIRST_NAMES);
  const last = pick(random, LAST_NAMES);
  const company = pick(random, COMPANIES);
  const [city, region, country] = pick(random, CITIES);
  const domain = company.toLowerCase().replace(/[^a-z]+/g, '') + '.example';
  return {
    id: contactId(sequence),
    first_name: first,
    last_name: last,
    email: `${first}.${last}.${sequence}@${domain}`.toLowerCase().replace(/\s+/g, ''),
    phone: randomPhone(random),
    company,
    title: randomTitle(random),
    address: {
      street: `${1 + Math.floor(random() * 250)} ${pick(random, STREETS)}`,
      city,
      region,
      postal_code: String(10_000 + Math.floor(random() * 89_999)),
      country,
    },
    tags: pickSome(random, TAGS, 4),
    notes: randomNotes(random),
    created_at: createdAt.toISOString(),
    updated_at: updatedAt.toISOString(),
  };
}
