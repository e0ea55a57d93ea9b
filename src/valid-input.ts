import type { z } from 'zod';
import { LakechatError } from './errors.ts';

/** Parses input with a schema, or throws the validation error every transport reports as a 400. */
export function validInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new LakechatError('LAKECHAT_ERR_HTTP_VALIDATION', undefined, {
    details: {
      issues: parsed.error.issues.slice(0, 20).map((issue) => ({
        path: [where, ...issue.path.map(String)].join('.'),
        code: issue.code,
        message: issue.message,
      })),
    },
  });
}
