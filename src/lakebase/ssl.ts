import type { ConnectionOptions } from 'node:tls';

export const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof sslModes)[number];

export function isSslMode(value: string): value is SslMode {
  return (sslModes as readonly string[]).includes(value);
}

/**
 * libpq's sslmode as node-postgres TLS options. `require` encrypts without checking the certificate,
 * as libpq does (Lakebase's guide sets PGSSLMODE=require); `verify-ca` checks the chain, `verify-full`
 * the chain and the host name. node-postgres cannot fall back from TLS to plain, so `allow` and
 * `prefer` connect without TLS: use `require` for Lakebase, which refuses plain connections.
 */
export function tlsOptions(sslmode: SslMode): ConnectionOptions | false {
  switch (sslmode) {
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}
