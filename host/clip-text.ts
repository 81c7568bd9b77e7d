/**
 * Text cut for display (a log line, an error, a failure description): payloads and URLs can run
 * to megabytes. One form everywhere, so a reader always sees that, and how much, was left out.
 * A leaf module (no imports), so any part of the host can use it without an import cycle.
 */

/**
 * `text` if it has at most `max` characters; else its first `max` (one fewer where the cut would
 * split a surrogate pair, so no half character is shown) and how many more there were.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, Math.floor(max));
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}
