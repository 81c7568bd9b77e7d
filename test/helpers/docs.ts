/**
 * Reading the docs as a newcomer does, so that tests can run what README.md and docs/ show as
 * written: a section's code blocks, and its shell commands split into words as sh would.
 */
import { readFile } from 'node:fs/promises';

/** A file of the repository's docs (`README.md`, `docs/writing-syncs.md`), as text. */
export function readDoc(path: string): Promise<string> {
  return readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
}

/** The text of `doc` from its line `heading` to the next heading of that level or higher. */
export async function docSection(doc: string, heading: string): Promise<string> {
  const text = await readDoc(doc);
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" in ${doc}`);
  const level = /^#+/.exec(heading)![0].length;
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The contents of the ```lang blocks of `section`, in order. */
export function codeBlocks(section: string, lang: string): string[] {
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** The first ```ts block under `heading` in a guide of docs/. */
export async function guideExample(guide: string, heading: string): Promise<string> {
  const code = codeBlocks(await docSection(`docs/${guide}`, heading), 'ts')[0];
  if (!code) throw new Error(`no ts example under "${heading}" in docs/${guide}`);
  return code;
}

/** The commands of a ```sh block: one a line, a line ending in `\` continued on the next. */
export function shellCommands(block: string): string[] {
  return block.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * The words of one command as sh splits them: quotes removed, `$NAME` and `${NAME}` expanded from
 * `env` outside single quotes (an unset one throws, where sh would give an empty word: that is
 * the mistake a newcomer would make), and a `#` starting a word beginning a comment. Enough for
 * the docs' commands: no globs, no command substitution.
 */
export function shellWords(command: string, env: Record<string, string>): string[] {
  const expand = (text: string) => text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    const value = env[name];
    if (value === undefined) throw new Error(`$${name} is not set for: ${command}`);
    return value;
  });
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (/\s/.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === '#' && word === null) {
      break;
    } else if (ch === "'" || ch === '"') {
      const end = command.indexOf(ch, i + 1);
      if (end < 0) throw new Error(`unclosed ${ch} in: ${command}`);
      const quoted = command.slice(i + 1, end);
      word = (word ?? '') + (ch === '"' ? expand(quoted) : quoted);
      i = end;
    } else {
      const end = command.slice(i).search(/[\s'"]/);
      const bare = end < 0 ? command.slice(i) : command.slice(i, i + end);
      word = (word ?? '') + expand(bare);
      i += bare.length - 1;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** The `export NAME=value …` line of a banner as the variables it sets. */
export function exportedVariables(line: string): Record<string, string> {
  const [command, ...assignments] = shellWords(line, {});
  if (command !== 'export') throw new Error(`not an export line: ${line}`);
  return Object.fromEntries(assignments.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
}

/** The HTTP request a `curl` command's words make (-X, -H, -d and the URL; -d without -X is a POST). */
export function curlRequest(words: string[]): { method: string; url: string; headers: Record<string, string>; body?: string } {
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${words.join(' ')}`);
  const headers: Record<string, string> = {};
  let method: string | undefined;
  let body: string | undefined;
  let url: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === '-X') method = words[++i];
    else if (word === '-H') {
      const header = words[++i]!;
      headers[header.slice(0, header.indexOf(':')).trim().toLowerCase()] = header.slice(header.indexOf(':') + 1).trim();
    } else if (word === '-d') body = words[++i];
    else if (word.startsWith('-')) throw new Error(`curl option ${word} is not read here: ${words.join(' ')}`);
    else url = word;
  }
  if (!url) throw new Error(`curl without a URL: ${words.join(' ')}`);
  return { method: method ?? (body === undefined ? 'GET' : 'POST'), url, headers, ...(body !== undefined && { body }) };
}
