/** What `ferry start` and `ferry dev` print once the host listens: where, its dashboard, its key, and the line to paste into another shell. */
export function hostBanner(name: string, host: { secretKey: string; embedded: boolean }, url: string, dataDir: string): string[] {
  return [
    `${name} is running at ${url} (${host.embedded ? `embedded PGlite in ${dataDir}` : 'Postgres at DATABASE_URL'})`,
    `Dashboard: ${url}/dashboard (sign in with the secret key)`,
    `Secret key: ${host.secretKey}`,
    `  export FERRY_URL=${url} FERRY_SECRET_KEY=${host.secretKey}`,
  ];
}
