// Opening the SQLite file: directory created, WAL, sane pragmas, a clear error when it can't be written.
import Database from 'better-sqlite3';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { migrate } from './migrations.js';

export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

export function openDatabase(path: string): Database.Database {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') {
    const dir = dirname(file);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new StoreOpenError(`cannot use --db ${path}: directory ${dir} is not writable (${(err as Error).message})`);
    }
  }
  let db: Database.Database;
  try {
    db = new Database(file);
    // WAL: readers don't block the writer, and a kill -9 leaves a consistent file (sqlite.org/wal.html).
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode is durable across process crashes; only an OS crash can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    throw new StoreOpenError(`cannot open store ${path}: ${(err as Error).message}`);
  }
  return db;
}
