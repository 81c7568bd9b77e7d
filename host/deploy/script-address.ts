/**
 * How the API and the CLI name a script: `provider/name`, or a bare `name` where the provider is
 * known from context (a connection belongs to one provider). Names are unique per provider only.
 */
export interface ScriptAddress {
  provider: string | null;
  name: string;
}

export const SCRIPT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `figma/delete-comment` → { provider: 'figma', name: 'delete-comment' }; `delete-comment` → { provider: null, … }. null when malformed. */
export function parseScriptAddress(text: string): ScriptAddress | null {
  const slash = text.indexOf('/');
  const provider = slash === -1 ? null : text.slice(0, slash);
  const name = slash === -1 ? text : text.slice(slash + 1);
  if (!SCRIPT_NAME_PATTERN.test(name)) return null;
  if (provider !== null && !PROVIDER_PATTERN.test(provider)) return null;
  return { provider, name };
}

export function scriptKey(script: { provider: string; name: string }): string {
  return `${script.provider}/${script.name}`;
}
