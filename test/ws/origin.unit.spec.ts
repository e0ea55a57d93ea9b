import { describe, expect, it } from 'vitest';
import { originAllowed } from '../../src/ws/origin.ts';

describe('which browser origins may open a WebSocket', () => {
  it('allows a request without Origin: it does not come from a browser page', () => {
    expect(originAllowed({ host: 'app.example.com' }, [])).toBe(true);
  });

  it("allows the app's own host, as the proxy forwards it when it sends X-Forwarded-Host", () => {
    expect(originAllowed({ host: 'app.example.com', origin: 'https://app.example.com' }, [])).toBe(true);
    expect(originAllowed({ host: '10.0.0.7:8000', 'x-forwarded-host': 'chat.example.com', origin: 'https://chat.example.com' }, [])).toBe(true);
    expect(originAllowed({ host: '10.0.0.7:8000', 'x-forwarded-host': 'chat.example.com', origin: 'https://10.0.0.7:8000' }, [])).toBe(false);
  });

  it('refuses other sites and opaque origins unless listed, and allows everything with "*"', () => {
    const headers = { host: 'app.example.com', origin: 'https://evil.example.net' };
    expect(originAllowed(headers, [])).toBe(false);
    expect(originAllowed(headers, ['https://evil.example.net'])).toBe(true);
    expect(originAllowed({ host: 'app.example.com', origin: 'null' }, [])).toBe(false);
    expect(originAllowed(headers, ['*'])).toBe(true);
  });
});
