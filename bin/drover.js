#!/usr/bin/env node
// npm's bin entry: runs the TypeScript sources on Node 24 (type stripping).
await import('../src/main.ts');
