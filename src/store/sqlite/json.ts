// Columns that hold JSON text.

/** JSON text for a column; undefined (a function returning nothing) is stored as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}
