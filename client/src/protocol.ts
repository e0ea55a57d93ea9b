/**
 * The WebSocket protocol's frames and the log's events (docs/protocol.md), as the client sees them.
 * Written out by hand so the package has no runtime dependency; test/client/protocol-drift.unit.spec.ts
 * checks them against the server's zod schemas and frame serializers, so the two cannot drift.
 */

export type Scope = 'chat' | 'user' | 'all';
export type MessageRole = 'user' | 'assistant' | 'system' | 'tool';
export type SignalKind = 'typing' | 'delta';

// ---- client → server --------------------------------------------------------------------------

export interface SubscribeFrame {
  type: 'subscribe';
  id: string;
  scope: Scope;
  chatId?: string;
  /** A cursor to resume after; null for the beginning; absent for live only. */
  after?: string | null;
}

export interface UnsubscribeFrame {
  type: 'unsubscribe';
  id: string;
}

export interface PostFrame {
  type: 'post';
  /** The client message id: the same id again acks the original message and posts nothing. */
  id: string;
  chatId: string;
  content: string;
  role: MessageRole;
}

export interface SignalFrame {
  type: 'signal';
  id?: string;
  chatId: string;
  kind: SignalKind;
  data: Record<string, unknown>;
}

export interface PingFrame {
  type: 'ping';
  id?: string;
}

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PostFrame | SignalFrame | PingFrame;

// ---- events -----------------------------------------------------------------------------------

export interface ChatStartedData {
  chatId: string;
  userEmail: string;
  title: string;
  agentId: string | null;
}

export interface ChatRenamedData {
  chatId: string;
  title: string;
}

export interface MessagePostedData {
  chatId: string;
  messageId: string;
  /** 1, 2, 3... among the chat's messages. */
  position: number;
  role: MessageRole;
  content: string;
  clientMessageId?: string;
  traceId?: string;
  traceSummary?: Record<string, unknown>;
}

export interface ChatDeletedData {
  chatId: string;
}

export type MaritalStatus = 'single' | 'married' | 'divorced' | 'widowed' | 'separated';
export type EmploymentStatus = 'employed_full_time' | 'employed_part_time' | 'self_employed' | 'unemployed' | 'retired' | 'student';
export type RiskTolerance = 'conservative' | 'moderately_conservative' | 'moderate' | 'moderately_aggressive' | 'aggressive';
export type TaxFilingStatus = 'single' | 'married_filing_jointly' | 'married_filing_separately' | 'head_of_household' | 'qualifying_widow';

/** A complete profile: every field present (docs/api.md, Profile). */
export interface ProfileFields {
  dateOfBirth: string | null;
  maritalStatus: MaritalStatus | null;
  numberOfDependents: number;
  employmentStatus: EmploymentStatus | null;
  employerName: string | null;
  jobTitle: string | null;
  yearsEmployed: number | null;
  annualIncome: number | null;
  riskTolerance: RiskTolerance | null;
  taxFilingStatus: TaxFilingStatus | null;
  financialGoals: string[];
  investmentExperienceYears: number | null;
  retirementAgeTarget: number | null;
  notes: string | null;
}

export type ProfileChanges = Partial<ProfileFields>;

export interface ProfileUpdatedData {
  userEmail: string;
  changes: ProfileChanges;
}

export interface ProfileDeletedData {
  userEmail: string;
}

export interface EventDataByType {
  ChatStarted: ChatStartedData;
  ChatRenamed: ChatRenamedData;
  MessagePosted: MessagePostedData;
  ChatDeleted: ChatDeletedData;
  ProfileUpdated: ProfileUpdatedData;
  ProfileDeleted: ProfileDeletedData;
}

export type EventType = keyof EventDataByType;

/** One event of the log, as a subscription delivers it. */
export type LakechatEvent = {
  [K in EventType]: {
    type: 'event';
    subscription: string;
    /** The event's global position in the log. */
    position: number;
    /** Opaque: where a subscription resumes after this event. */
    cursor: string;
    streamId: string;
    /** The event's position in its stream (1, 2, 3...): the chat's or profile's ETag after it. */
    version: number;
    eventType: K;
    data: EventDataByType[K];
    recordedAt: string;
  };
}[EventType];

/** An erased event's data: a tombstone (docs/protocol.md, "Erased events"), nothing more. */
export interface ErasedData {
  erased: true;
  erasureId: string;
}

/**
 * An event whose content was erased (`DELETE /api/me`, a deleted chat or profile): the same place in
 * the log (position, cursor, version, event type) and, but for a user's erasure, the same stream; its
 * data a tombstone. An app drops what it shows of the event, found by its position.
 */
export type ErasedEvent = {
  [K in EventType]: Omit<Extract<LakechatEvent, { eventType: K }>, 'data'> & { data: ErasedData };
}[EventType];

/** True for an erased event (its data a tombstone): read `data` by `eventType` only when false. */
export function isErased(event: LakechatEvent | ErasedEvent): event is ErasedEvent {
  const data = event.data as { erased?: unknown; erasureId?: unknown } | null;
  return typeof data === 'object' && data !== null && data.erased === true && typeof data.erasureId === 'string';
}

// ---- server → client --------------------------------------------------------------------------

export type EventFrame = LakechatEvent | ErasedEvent;

export interface CaughtUpFrame {
  type: 'caught_up';
  subscription: string;
  cursor: string | null;
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  subscription: string;
}

export interface AckFrame {
  type: 'ack';
  /** The client message id. */
  id: string;
  messageId: string;
  /** The message's position in its chat. */
  position: number;
  cursor: string;
  /** The chat stream's version right after the message (its ETag). */
  version: number;
  /** True when this id was posted before: the ack is the original message's. */
  duplicate: boolean;
}

export interface SignalEventFrame {
  type: 'signal';
  subscription: string;
  chatId: string;
  kind: SignalKind;
  data: Record<string, unknown>;
}

export interface PongFrame {
  type: 'pong';
  id?: string;
}

export interface ErrorFrame {
  type: 'error';
  id?: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type ServerFrame = EventFrame | CaughtUpFrame | UnsubscribedFrame | AckFrame | SignalEventFrame | PongFrame | ErrorFrame;

const serverFrameTypes = new Set(['event', 'caught_up', 'unsubscribed', 'ack', 'signal', 'pong', 'error']);

/** Reads a frame from the server; null for anything that is not a JSON object of a known type. */
export function parseServerFrame(text: unknown): ServerFrame | null {
  if (typeof text !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && serverFrameTypes.has(type) ? (value as ServerFrame) : null;
}

// ---- close codes and error codes ----------------------------------------------------------------

/**
 * What a close code tells the client (docs/protocol.md, Close codes): 4400-4499 means "do not
 * reconnect until something changes", and so do 1008 and 1009 (the client broke a rule). Everything
 * else (1006 dropped, 1012 restarting, 4000-4099 reconnect, and any code not listed) means resume.
 */
export function closeCodeStops(code: number): boolean {
  return (code >= 4400 && code <= 4499) || code === 1008 || code === 1009;
}

/**
 * Error codes worth trying again (with the same client message id for a post): codes of status 429
 * or 5xx that can answer a frame. Any other code is final for the frame it answers.
 */
export const retryableCodes: readonly string[] = [
  'LAKECHAT_ERR_STORE_UNAVAILABLE',
  'LAKECHAT_ERR_STORE_CLOSED',
  'LAKECHAT_ERR_STORE_CONTENDED',
  'LAKECHAT_ERR_HTTP_RATE_LIMITED',
  'LAKECHAT_ERR_HTTP_INTERNAL',
  'LAKECHAT_ERR_PROJECTION_TIMEOUT',
  'LAKECHAT_ERR_PROJECTION_STOPPED',
  'LAKECHAT_ERR_WS_RATE_LIMITED',
  'LAKECHAT_ERR_WS_TOO_MANY_SUBSCRIPTIONS',
  'LAKECHAT_ERR_WS_INTERNAL',
];

/** The code a subscription gets when the server refuses its cursor: the scope restarts from its beginning. */
export const invalidCursorCode = 'LAKECHAT_ERR_STORE_INVALID_CURSOR';
