/** How provider calls read in errors: what is redacted from the URL and the body, and how much of the body is shown. */
import { describe, expect, test } from 'vitest';
import { bodyExcerpt, describeFailure, redactUrl, secretsOf } from '../../host/proxy/describe.ts';

describe('redactUrl', () => {
  test('userinfo goes, secret-looking query values and the named parameter are hidden, the rest stays', () => {
    const url = new URL('https://user:pw@api.example.com/v1/items?limit=10&api_key=abc&access_token=t0k&hapikey=h&sig=s&refresh_token=r&k=key-value-123&after=xyz');
    expect(redactUrl(url, [], ['k'])).toBe('https://api.example.com/v1/items?limit=10&api_key=***&access_token=***&hapikey=***&sig=***&refresh_token=***&k=***&after=xyz');
  });

  test('secret words are matched in snake, kebab and camel case, not inside ordinary words', () => {
    const url = new URL('https://a.example/x?apiKey=1&clientSecret=2&X-Api-Key=3&code=4&author=ada&keyword=books&monkey=5&zip_code=6');
    expect(redactUrl(url)).toBe('https://a.example/x?apiKey=***&clientSecret=***&X-Api-Key=***&code=***&author=ada&keyword=books&monkey=5&zip_code=6');
  });

  test("the connection's secrets are hidden wherever they appear, encoded or not", () => {
    const secrets = secretsOf({ type: 'api_key', apiKey: 'se cret/value' });
    const url = new URL(`https://api.example.com/keys/${encodeURIComponent('se cret/value')}/items?q=se%20cret%2Fvalue`);
    expect(redactUrl(url, secrets)).toBe('https://api.example.com/keys/***/items?q=***');
  });

  test('secrets of every credential type are known; very short ones are not substring-redacted', () => {
    expect(secretsOf({ type: 'oauth2', accessToken: 'access-123', refreshToken: 'refresh-123', clientSecret: 'client-secret' })).toEqual(['access-123', 'refresh-123', 'client-secret']);
    expect(secretsOf({ type: 'basic', username: 'ada', password: 'pw' })).toEqual([]);
    expect(secretsOf({ type: 'none' })).toEqual([]);
  });
});

describe('describeFailure', () => {
  test("a URL of thousands of characters is cut, so the description fits the runtime's 2,000-character failure", () => {
    const url = `https://graph.microsoft.com/v1.0/applications/delta?$skiptoken=${'T'.repeat(5000)}`;
    const text = describeFailure('GET', url, 404, 'x'.repeat(5000));
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/^GET https:\/\/graph\.microsoft\.com\/v1\.0\/applications\/delta\?\$skiptoken=T+… \(3863 more characters\) answered 404: x+… \(4700 more characters\)$/);
  });

  test('method, URL, status and the start of the body on one line', () => {
    const body = JSON.stringify({ error: 'bad', echo: 'token-abcdef' }) + '\n' + 'y'.repeat(1000);
    const text = describeFailure('PATCH', 'https://api.example.com/v1/x', 422, body, ['token-abcdef']);
    expect(text.startsWith('PATCH https://api.example.com/v1/x answered 422: {"error":"bad","echo":"***"} yyy')).toBe(true);
    expect(text).not.toContain('token-abcdef');
    expect(text).toMatch(/y… \(\d+ more characters\)$/);
    expect(bodyExcerpt(body)).toMatch(/^.{300}… \(\d+ more characters\)$/);
    expect(describeFailure('GET', 'https://a.example/', 500, '')).toBe('GET https://a.example/ answered 500 with an empty body');
  });
});
