/** The web platform globals scripts get (declared for scripts in sdk/globals.d.ts). */
import { installCrypto, type RandomFn } from './crypto.ts';
import { installEvents } from './events.ts';
import { installStandard } from './standard.ts';
import { installText } from './text.ts';

export type { RandomFn } from './crypto.ts';

export function installWeb(random: RandomFn): void {
  installStandard();
  installText();
  installEvents();
  installCrypto(random);
}
