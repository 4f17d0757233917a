export function buildMsi(): string { throw new Error('todo'); }
