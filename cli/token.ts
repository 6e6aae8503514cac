// The bearer token, for the sidecar (serve, run) and for the client commands alike: --token-file
// wins over TRAINPILOT_TOKEN; either is trimmed, and an empty one counts as none.
import { readFileSync } from 'node:fs';

export const TOKEN_FLAG = { name: 'token-file', default: null, help: 'file holding the bearer token (TRAINPILOT_TOKEN gives it directly)' };

/** The token, or null; a file that cannot be read is a problem pushed to `errors`. */
export function resolveToken(values: Record<string, string | null>, env: NodeJS.ProcessEnv, errors: string[]): string | null {
  const file = values['token-file'];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim() || null;
    } catch (err) {
      errors.push(`--token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return null;
    }
  }
  return env.TRAINPILOT_TOKEN?.trim() || null;
}
