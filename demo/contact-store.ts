/**
 * The demo CRM's data: contacts in memory, listed in (updated_at, id) order with keyset paging,
 * so a cursor stays valid while contacts change (a contact updated mid-listing moves to the end
 * and is listed again, never skipped).
 */
import { contactId, createRandom, generateContact, pick, randomNotes, randomPhone, randomTitle, type Contact, type Random } from './contact-generator.ts';

/** Seeded contacts were last updated before this instant; changes made later are stamped with the clock. */
const SEED_EPOCH = Date.parse('2024-01-01T00:00:00.000Z');

export interface ContactPage {
  data: Contact[];
  next_cursor: string | null;
}

export class InvalidCursorError extends Error {}

function encodeCursor(contact: Contact): string {
  return Buffer.from(JSON.stringify([contact.updated_at, contact.id])).toString('base64url');
}

function decodeCursor(cursor: string): [updatedAt: string, id: string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError('cursor is not one this API issued');
}

function compareKey(a: Contact, updatedAt: string, id: string): number {
  // ISO strings of the same format sort chronologically.
  return a.updated_at < updatedAt ? -1 : a.updated_at > updatedAt ? 1 : a.id < id ? -1 : a.id > id ? 1 : 0;
}

export class ContactStore {
  readonly #contacts = new Map<string, Contact>();
  readonly #random: Random;
  #nextSequence = 1;
  #lastStamp = 0;
  #sorted: Contact[] | null = null;

  constructor(options: { count: number; seed: number }) {
    this.#random = createRandom(options.seed);
    for (let i = 0; i < options.count; i++) {
      // Spread the seeded history over the year before the epoch, oldest first.
      const created = new Date(SEED_EPOCH - (options.count - i) * 3_600_000);
      const updated = new Date(created.getTime() + Math.floor(this.#random() * 3_000_000));
      this.#insert(generateContact(this.#random, this.#nextSequence++, created, updated));
    }
  }

  get size(): number {
    return this.#contacts.size;
  }

  all(): Contact[] {
    return this.#ordered().map((c) => structuredClone(c));
  }

  get(id: string): Contact | undefined {
    const contact = this.#contacts.get(id);
    return contact && structuredClone(contact);
  }

  list(options: { updatedSince?: Date; cursor?: string; limit: number }): ContactPage {
    const after = options.cursor ? decodeCursor(options.cursor) : null;
    const since = options.updatedSince?.toISOString();
    const data: Contact[] = [];
    let more = false;
    for (const contact of this.#ordered()) {
      if (since && contact.updated_at < since) continue;
      if (after && compareKey(contact, after[0], after[1]) <= 0) continue;
      if (data.length === options.limit) {
        more = true;
        break;
      }
      data.push(structuredClone(contact));
    }
    const last = data.at(-1);
    return { data, next_cursor: more && last ? encodeCursor(last) : null };
  }

  create(fields: Omit<Contact, 'id' | 'created_at' | 'updated_at'>): Contact {
    const now = this.#stamp();
    const contact: Contact = { ...fields, id: contactId(this.#nextSequence++), created_at: now.toISOString(), updated_at: now.toISOString() };
    this.#insert(contact);
    return structuredClone(contact);
  }

  /** Adds n generated contacts stamped now; returns their ids. */
  add(n: number): string[] {
    return Array.from({ length: n }, () => {
      const now = this.#stamp();
      const contact = generateContact(this.#random, this.#nextSequence++, now, now);
      this.#insert(contact);
      return contact.id;
    });
  }

  /** Changes n distinct contacts (title, phone or notes) and bumps their updated_at; returns their ids. */
  update(n: number): string[] {
    return this.#pickIds(n).map((id) => {
      const contact = this.#contacts.get(id) as Contact;
      const field = pick(this.#random, ['title', 'phone', 'notes'] as const);
      if (field === 'title') contact.title = randomTitle(this.#random);
      else if (field === 'phone') contact.phone = randomPhone(this.#random);
      else contact.notes = randomNotes(this.#random);
      contact.updated_at = this.#stamp().toISOString();
      this.#sorted = null;
      return id;
    });
  }

  /** Hard-deletes n contacts, as incremental APIs do (they vanish from listings); returns their ids. */
  delete(n: number): string[] {
    const ids = this.#pickIds(n);
    for (const id of ids) this.#contacts.delete(id);
    this.#sorted = null;
    return ids;
  }

  #pickIds(n: number): string[] {
    const ids = [...this.#contacts.keys()];
    // Partial Fisher–Yates: n distinct ids, reproducible from the seed.
    const count = Math.min(n, ids.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.#random() * (ids.length - i));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return ids.slice(0, count);
  }

  #insert(contact: Contact): void {
    this.#contacts.set(contact.id, contact);
    this.#sorted = null;
  }

  #ordered(): Contact[] {
    this.#sorted ??= [...this.#contacts.values()].sort((a, b) => compareKey(a, b.updated_at, b.id));
    return this.#sorted;
  }

  /** Now, but strictly after the previous stamp: two changes never share an updated_at. */
  #stamp(): Date {
    this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
    return new Date(this.#lastStamp);
  }
}
