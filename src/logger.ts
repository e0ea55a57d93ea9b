import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import { writeAroundOpenLine } from './terminal-line.ts';

/** Paths whose values are secrets wherever they appear in a log object. */
const redactedPaths = [
  'password',
  'token',
  'secret',
  'authorization',
  'connectionString',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.connectionString',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-forwarded-access-token"]',
  'headers.authorization',
];

const urlPassword = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi;
const bearer = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
const databricksToken = /\bdapi[a-f0-9]{20,}\b/gi;
const jwt = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g;

/** Masks secrets that can hide inside free text: URL passwords, bearer tokens, PATs, JWTs. */
export function redactSecrets(text: string): string {
  return text.replace(urlPassword, '$1***@').replace(bearer, '$1***').replace(databricksToken, 'dapi***').replace(jwt, '***');
}

/** `json`: one JSON object per line (production, files, log collectors); `pretty`: for people. */
export type LogFormat = 'json' | 'pretty' | 'auto';

/**
 * The error's message followed by each cause's message that it does not already quote (pino's own
 * serializer appends every cause's, so a wrapper that says why repeated it: `refused: X: X`).
 */
function messageWithNewCauses(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  let text = error.message;
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 8 && cause instanceof Error; depth += 1) {
    if (cause.message !== '' && !text.includes(cause.message)) text = `${text}: ${cause.message}`;
    cause = cause.cause;
  }
  return text;
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to assert on what was logged. */
  destination?: DestinationStream & { isTTY?: boolean };
  /** `auto` (the default): pretty when the destination is a terminal, JSON otherwise (config.ts makes it `json` in production). */
  format?: LogFormat;
}

/**
 * Where the lines go: pretty lines (pino-pretty, colours on a terminal) or JSON lines as they are;
 * on a terminal, around a progress bar being drawn there.
 */
function destinationFor(options: LoggerOptions): DestinationStream {
  const out = options.destination ?? (process.stdout as DestinationStream & { isTTY?: boolean });
  const terminal = out.isTTY === true;
  const pretty = options.format === 'pretty' || ((options.format ?? 'auto') === 'auto' && terminal);
  if (!pretty && !terminal) return options.destination ?? pino.destination(1);
  // Loaded only when used: JSON-only processes (production, tests, pipes) never pay for it.
  const prettyFactory = pretty ? (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory }).prettyFactory : undefined;
  const prettify = prettyFactory?.({ colorize: terminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return { write: (line: string) => writeAroundOpenLine(out, prettify === undefined ? line : prettify(line)) };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '***' },
      formatters: {
        log(object) {
          // Error messages and free-text fields can quote a connection string or a header.
          for (const [key, value] of Object.entries(object)) {
            if (typeof value === 'string') object[key] = redactSecrets(value);
          }
          return object;
        },
      },
      serializers: {
        err(error: unknown) {
          const serialized = pino.stdSerializers.err(error as Error);
          serialized.message = redactSecrets(messageWithNewCauses(error) ?? serialized.message ?? '');
          if (typeof serialized.stack === 'string') serialized.stack = redactSecrets(serialized.stack);
          return serialized;
        },
      },
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg));
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
    },
    destinationFor(options),
  );
}

export type { Logger };
