// Checks that the list entries a task points at exist, collecting one field error per missing entry.
import type { DB } from '#data/db.ts';
import { Invalid, type FieldError } from '../../domain/errors.ts';
import { entryById } from '../../store/lists.ts';
import { LIST_INFO, type ListKind } from '../../domain/lists.ts';

export function assertReferencesExist(db: DB, refs: { field: string; kind: ListKind; id: number | null | undefined }[]): void {
  const errors: FieldError[] = [];
  for (const r of refs) {
    if (r.id === null || r.id === undefined) continue;
    if (!entryById(db, r.kind, r.id)) errors.push({ field: r.field, message: `unknown ${LIST_INFO[r.kind].label} ${r.id}` });
  }
  if (errors.length) throw new Invalid(errors.map((e) => e.message).join('; '), errors);
}
