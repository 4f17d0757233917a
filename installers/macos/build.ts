export function buildPkg(): string { throw new Error('todo'); }
