export { Erasures, type ErasuresOptions } from './erasures.ts';
export { MemoryErasureRecords, PostgresErasureRecords, type ErasureRecord, type ErasureRecords, type ErasureState } from './erasure-records.ts';
export { registerErasureRoutes, toErasureView } from './routes.ts';
export { refusingWritesDuringErasure } from './refusing-store.ts';
export { countOwnerData, deleteOwnerRows, deleteStreamRows, touchedTables, vacuumTables } from './database-rows.ts';
