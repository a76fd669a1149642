// Nothing from a remote is trusted (DESIGN.md): every JSON body goes through a
// zod schema, and anything unexpected becomes a MalformedResponseError of that
// call, never an uncaught TypeError three functions later.
import type { z } from 'zod';
import { MalformedResponseError } from '../clients/errors';

export function parseJsonText(text: string, operation: string, status?: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MalformedResponseError(`${operation}: response is not JSON`, {
      operation,
      ...(status !== undefined ? { status } : {}),
    });
  }
}

export function validate<S extends z.ZodType>(schema: S, data: unknown, operation: string, status?: number): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  // Name where the data is wrong, not what it contained (it may be user data).
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  throw new MalformedResponseError(`${operation}: unexpected response at ${where}: ${issue?.message ?? 'invalid'}`, {
    operation,
    ...(status !== undefined ? { status } : {}),
  });
}
