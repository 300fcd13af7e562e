import type { ChildHandle, ChildState } from './child.ts';

/** The supervisor's children as other modules read them. */
export interface Children {
  readonly size: number;
  has(id: number): boolean;
  values(): IterableIterator<ChildHandle>;
  /** Children in `state`. */
  count(state: ChildState): number;
}

/** Every child process the supervisor has forked and not yet seen exit, by id. */
export class ChildRegistry implements Children {
  private readonly byId = new Map<number, ChildHandle>();

  add(child: ChildHandle): void {
    this.byId.set(child.id, child);
  }

  remove(child: ChildHandle): void {
    this.byId.delete(child.id);
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  values(): IterableIterator<ChildHandle> {
    return this.byId.values();
  }

  count(state: ChildState): number {
    let n = 0;
    for (const c of this.byId.values()) if (c.state === state) n++;
    return n;
  }

  /** Ready or starting: serving or about to. */
  live(): ChildHandle[] {
    return [...this.byId.values()].filter((c) => c.state === 'ready' || c.state === 'starting');
  }

  /** Live children that hold a slot of their own (a replacement holds its old child's until it is done). */
  slotted(): ChildHandle[] {
    return this.live().filter((c) => !c.isReplacement);
  }

  /** Slots 0, 1, … not held by a slotted child, as many as `desired` lacks. */
  missingSlots(desired: number): number[] {
    const slotted = this.slotted();
    const used = new Set(slotted.map((c) => c.slot));
    const missing: number[] = [];
    for (let slot = 0; missing.length < desired - slotted.length; slot++) if (!used.has(slot)) missing.push(slot);
    return missing;
  }
}
