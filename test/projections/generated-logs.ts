/**
 * Logs for the read models' contract: a seeded random history of every kind of event the domain writes,
 * and the odd cases it never writes but the folds still define (read models must agree on them too).
 */
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import type { DomainWriter, LogBed } from '../replay/log-bed.ts';

/** A small deterministic generator (mulberry32): the same seed, the same log. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const patches: Record<string, unknown>[] = [
  { jobTitle: 'Analyst', numberOfDependents: 2 },
  { jobTitle: 'Manager', financialGoals: ['house', 'retire'] },
  { annualIncome: 0.1 + 0.2, yearsEmployed: 2.5, dateOfBirth: '1999-12-31' },
  { annualIncome: null, riskTolerance: 'aggressive' },
  { financialGoals: [], notes: 'Émojis 🎉 and "quotes"' },
  {},
];

/** Chats started, posted to, renamed and deleted; profiles patched, deleted and made again; at random. */
export async function writeRandomHistory(writer: DomainWriter, seed: number, steps: number): Promise<void> {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const users = ['ann@example.com', 'bob@example.com', 'cy@example.com'];
  const chats = new Map<string, { owner: string; chatId: string; deleted: boolean }>();
  for (let step = 0; step < steps; step++) {
    const owner = pick(users);
    const roll = next();
    const live = [...chats.values()].filter((chat) => chat.owner === owner && !chat.deleted);
    if (roll < 0.15 || live.length === 0) {
      const chatId = `r${seed}-${step}`;
      chats.set(chatId, { owner, chatId, deleted: false });
      await writer.startChat(owner, chatId, `Chat ${step}`);
    } else if (roll < 0.6) {
      const chat = pick(live);
      const long = next() < 0.2;
      await writer.post(
        owner,
        chat.chatId,
        long ? 'x'.repeat(199) + '🎉 and more' : `message ${step}`,
        next() < 0.3 ? { traceId: `t${step}`, traceSummary: { step, nested: { list: [1, 'two', null] } } } : {},
      );
    } else if (roll < 0.68) {
      await writer.rename(owner, pick(live).chatId, `Renamed ${step}`);
    } else if (roll < 0.74) {
      const chat = pick(live);
      chat.deleted = true;
      await writer.deleteChat(owner, chat.chatId);
    } else if (roll < 0.92) {
      await writer.updateProfile(owner, pick(patches));
    } else {
      await writer.deleteProfile(owner);
    }
  }
}

/** What the domain never writes, which the folds still define. */
export async function writeOddCases(bed: LogBed): Promise<void> {
  const { writer } = bed;
  const owner = 'odd@example.com';
  // A chat started twice: the second start changes nothing.
  await writer.startChat(owner, 'twice', 'First title');
  await writer.startChat(owner, 'twice', 'Second title');
  // Events of a chat never started: no row anywhere.
  await writer.raw(chatStreamId(owner, 'ghost'), 'ChatRenamed', { chatId: 'ghost', title: 'Nobody' }, owner);
  await writer.raw(chatStreamId(owner, 'ghost'), 'ChatDeleted', { chatId: 'ghost' }, owner);
  // Two posts at the same position (a retry with a new event id): the first message stays.
  await writer.startChat(owner, 'dup');
  const dup = chatStreamId(owner, 'dup');
  const message = (position: number, content: string) => ({ chatId: 'dup', messageId: '0b7e7b1c-5e2f-4e55-9d0b-3f5a7f2b9c11', position, role: 'user', content });
  await writer.raw(dup, 'MessagePosted', message(1, 'original'), owner);
  await writer.raw(dup, 'MessagePosted', { ...message(1, 'retry'), messageId: 'a8d3c7c9-4b1e-4c2f-8a57-0d6b3e1f2a90' }, owner);
  // Posts after a deletion, then deleted again: each fold decides as it does.
  await writer.startChat(owner, 'gone');
  const gone = chatStreamId(owner, 'gone');
  await writer.post(owner, 'gone', 'before the end');
  await writer.deleteChat(owner, 'gone');
  await writer.raw(gone, 'MessagePosted', { ...message(9, 'after the end'), chatId: 'gone' }, owner);
  await writer.deleteChat(owner, 'gone');
  await writer.raw(gone, 'MessagePosted', { ...message(10, 'after the second end'), chatId: 'gone', messageId: 'c1f7f2aa-1111-4c2f-8a57-0d6b3e1f2a91' }, owner);
  // Data that does not match its schema, and a type nobody handles: skipped (parked) by every read model.
  await writer.raw(dup, 'MessagePosted', { chatId: 'dup', position: 'eleven' }, owner);
  await writer.raw(dup, 'ChatArchived', { chatId: 'dup' }, owner);
  // Text of every kind, and a trace summary with nesting.
  await writer.startChat(owner, 'text', 'Émojis 🎉 "quotes", commas');
  await writer.post(owner, 'text', 'a'.repeat(250) + '🎉'.repeat(5), { traceId: 'tr', traceSummary: { nested: { list: [1, 'two', null], 'key "q"': true } } });
  await writer.post(owner, 'text', 'x'.repeat(199) + '🎉');
  // Text the store keeps escaped (U+E000 is its escape mark), in the message and in its trace.
  await writer.post(owner, 'text', 'private use \ue000 in the content');
  await writer.post(owner, 'text', 'plain content', { traceId: 'tr\ue000', traceSummary: { note: 'x\ue000y' } });
  // A row stored escaped (a lone surrogate in a field no schema reads), with U+E000 in what is read.
  await writer.post(owner, 'text', 'private use \ue000 in an escaped row', { extra: 'lone \ud800' });
  // Profiles: deleted before they exist, re-created after a deletion, deleted twice.
  await writer.deleteProfile('early@example.com');
  await writer.updateProfile('early@example.com', { notes: 'after an early delete' });
  await writer.updateProfile(owner, { employerName: 'Acme', yearsEmployed: 2.5, annualIncome: 0.1 + 0.2, dateOfBirth: '1999-12-31' });
  await writer.updateProfile(owner, { financialGoals: [], numberOfDependents: 3 });
  await writer.deleteProfile(owner);
  await writer.deleteProfile(owner);
  await writer.updateProfile(owner, { jobTitle: 'Back again' });
  await writer.raw(profileStreamId(owner), 'ProfileUpdated', { userEmail: owner, changes: { unknownField: 1 } }, owner);
}
