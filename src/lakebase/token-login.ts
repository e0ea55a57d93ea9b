import { AsyncLocalStorage } from 'node:async_hooks';
import { createPgDriverFactory } from '@slonik/pg-driver';
import type { DriverFactory } from 'slonik';
import { isAuthenticationFailure } from './database-errors.ts';
import type { TokenProvider } from './token-provider.ts';

type Driver = Awaited<ReturnType<DriverFactory>>;
type DriverClient = Awaited<ReturnType<Driver['createClient']>>;

export interface TokenLogin {
  /** Slonik's pg driver, wrapped so a refused login is retried once with a new token. */
  driverFactory: DriverFactory;
  /** The pool's password function: the token of the login in progress. */
  password: () => Promise<string>;
}

/**
 * The pool's password function and its driver, together. Slonik's pg driver calls `password()` for
 * each new connection; the wrapper picks the token first and runs the login with it in scope, so when
 * the server refuses it (28P01, 28000) exactly that token is dropped from the cache and the login is
 * tried once more with a fresh one. Many connections refused at once cause one new token. A query
 * refused later for the same reason drops the token that connection logged in with, and only that one.
 */
export function createTokenLogin(tokens: TokenProvider): TokenLogin {
  const loginToken = new AsyncLocalStorage<string>();
  const base = createPgDriverFactory();

  async function withToken<T>(login: () => Promise<T>): Promise<{ value: T; token: string }> {
    const token = await tokens.getToken();
    try {
      return { value: await loginToken.run(token, login), token };
    } catch (error) {
      if (!isAuthenticationFailure(error)) throw error;
      tokens.invalidate(token);
      const fresh = await tokens.getToken();
      return { value: await loginToken.run(fresh, login), token: fresh };
    }
  }

  /**
   * A connection remembers the token it logged in with: when the server later refuses it on that
   * connection, exactly that token is dropped, never a fresher one cached meanwhile.
   */
  async function createClient(driver: Driver): Promise<DriverClient> {
    const { value: client, token } = await withToken(() => driver.createClient());
    return {
      ...client,
      query: async (...args: Parameters<DriverClient['query']>) => {
        try {
          return await client.query(...args);
        } catch (error) {
          if (isAuthenticationFailure(error)) tokens.invalidate(token);
          throw error;
        }
      },
    };
  }

  const driverFactory: DriverFactory = async (options) => {
    // Setting the driver up logs in once (to read type oids), so it gets the same retry.
    const { value: driver } = await withToken(() => base(options));
    return { ...driver, createClient: () => createClient(driver) };
  };

  return { driverFactory, password: async () => loginToken.getStore() ?? tokens.getToken() };
}
