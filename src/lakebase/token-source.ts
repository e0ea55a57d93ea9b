/** A token as its issuer returned it. */
export interface IssuedToken {
  /** The secret itself: a PostgreSQL password. Never logged, never put in an error or /health. */
  token: string;
  /** When the issuer says it stops working (epoch ms), if it says. */
  expiresAt?: number;
}

/** Where tokens come from: a Lakebase database credential, or the workspace's own OAuth token. */
export type TokenSourceKind = 'database-credential' | 'endpoint-credential' | 'workspace-token';

export interface TokenSource {
  readonly kind: TokenSourceKind;
  /**
   * Asks the issuer for a token. Throws a LakechatError (CREDENTIAL_FAILED) that carries no secret.
   * `signal` aborts when the provider stops waiting (a source may ignore it: its answer is then dropped).
   */
  fetch(signal?: AbortSignal): Promise<IssuedToken>;
}
