export { type ContentDeletion, countOwnerData, deleteOwnerRows, deleteStreamRows, touchedTables, unerasedDeletions, vacuumTables } from './database-rows.ts';
export { type ErasureRecord, type ErasureRecords, type ErasureState, MemoryErasureRecords, PostgresErasureRecords } from './erasure-records.ts';
export { Erasures, type ErasuresOptions } from './erasures.ts';
export { FallbackErasureRecords } from './fallback-records.ts';
export { refusingWritesDuringErasure } from './refusing-store.ts';
