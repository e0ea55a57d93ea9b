/**
 * The client's frame and event types are written by hand (no zod at runtime); this file ties them to
 * the server's schemas and serializers, so that a change on either side fails `npm run typecheck` or
 * this test. Type checks are `expectTypeOf` (checked by tsc); runtime checks parse real frames.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type * as client from '../../client/src/protocol.ts';
import { closeCodeStops, isErased, parseServerFrame, retryableCodes } from '../../client/src/protocol.ts';
import type { ChatDeleted, ChatRenamed, ChatStarted, MessagePosted } from '../../src/chats/events.ts';
import { type ErrorCode, errorCatalogue, LakechatError } from '../../src/errors.ts';
import { type RecordedEvent, type Tombstone, tombstoneOf } from '../../src/event-store/index.ts';
import type { ProfileDeleted, ProfileUpdated } from '../../src/profiles/events.ts';
import type { ProfileFields } from '../../src/profiles/fields.ts';
import type { PingFrame, PostFrame, SignalFrame, SubscribeFrame, UnsubscribeFrame } from '../../src/ws/client-frames.ts';
import { parseClientFrame, type pingFrame, type postFrame, type signalFrame, type subscribeFrame, type unsubscribeFrame } from '../../src/ws/client-frames.ts';
import { closeCodes } from '../../src/ws/close-codes.ts';
import { type Ack, ackFrame, caughtUpFrame, errorFrame, eventFrame, pongFrame, type RelayedSignal, signalFrameFor, unsubscribedFrame } from '../../src/ws/server-frames.ts';

describe('the client and the server speak the same protocol', () => {
  it("types the events as the server's schemas do", () => {
    expectTypeOf<client.ChatStartedData>().toEqualTypeOf<z.infer<typeof ChatStarted>>();
    expectTypeOf<client.ChatRenamedData>().toEqualTypeOf<z.infer<typeof ChatRenamed>>();
    expectTypeOf<client.MessagePostedData>().toEqualTypeOf<z.infer<typeof MessagePosted>>();
    expectTypeOf<client.ChatDeletedData>().toEqualTypeOf<z.infer<typeof ChatDeleted>>();
    expectTypeOf<client.ProfileUpdatedData>().toEqualTypeOf<z.infer<typeof ProfileUpdated>>();
    expectTypeOf<client.ProfileDeletedData>().toEqualTypeOf<z.infer<typeof ProfileDeleted>>();
    expectTypeOf<client.ProfileFields>().toEqualTypeOf<ProfileFields>();
    expectTypeOf<client.ErasedData>().toEqualTypeOf<Tombstone>();
  });

  it("types the client's frames as the server parses them", () => {
    // What the client sends, the server's schema accepts; what the server reads, the client can say.
    expectTypeOf<client.SubscribeFrame>().toEqualTypeOf<z.input<typeof subscribeFrame>>();
    expectTypeOf<client.UnsubscribeFrame>().toEqualTypeOf<z.input<typeof unsubscribeFrame>>();
    expectTypeOf<client.PostFrame>().toEqualTypeOf<PostFrame>();
    expectTypeOf<client.PostFrame>().toExtend<z.input<typeof postFrame>>();
    expectTypeOf<client.SignalFrame>().toEqualTypeOf<SignalFrame>();
    expectTypeOf<client.SignalFrame>().toExtend<z.input<typeof signalFrame>>();
    expectTypeOf<client.PingFrame>().toEqualTypeOf<z.input<typeof pingFrame>>();
    expectTypeOf<client.SubscribeFrame>().toEqualTypeOf<SubscribeFrame>();
    expectTypeOf<client.UnsubscribeFrame>().toEqualTypeOf<UnsubscribeFrame>();
    expectTypeOf<client.PingFrame>().toEqualTypeOf<PingFrame>();
  });

  it("types the server's frames as the server builds them", () => {
    expectTypeOf<Omit<client.AckFrame, 'type'>>().toEqualTypeOf<Ack>();
    expectTypeOf<Pick<client.SignalEventFrame, 'chatId' | 'kind' | 'data'>>().toEqualTypeOf<RelayedSignal>();
    expectTypeOf<client.EventType>().toEqualTypeOf<'ChatStarted' | 'ChatRenamed' | 'MessagePosted' | 'ChatDeleted' | 'ProfileUpdated' | 'ProfileDeleted'>();
  });

  it('sends frames the server accepts', () => {
    const frames: client.ClientFrame[] = [
      { type: 'subscribe', id: 's1', scope: 'chat', chatId: 'groceries', after: null },
      { type: 'subscribe', id: 's2', scope: 'user', after: '742-1' },
      { type: 'subscribe', id: 's3', scope: 'all' },
      { type: 'unsubscribe', id: 's1' },
      { type: 'post', id: '6c1e0c1a-52e0-4bb1-9f59-6b2f5f0d1e2a', chatId: 'groceries', content: 'milk', role: 'user' },
      { type: 'signal', chatId: 'groceries', kind: 'typing', data: { name: 'alice' } },
      { type: 'ping' },
    ];
    for (const frame of frames) {
      const parsed = parseClientFrame(Buffer.from(JSON.stringify(frame)), false);
      expect(parsed.ok, JSON.stringify(frame)).toBe(true);
      if (parsed.ok) expect(parsed.frame).toMatchObject(frame);
    }
  });

  it('reads every frame the server builds', () => {
    const recorded: RecordedEvent = {
      eventId: 'e',
      position: 2,
      cursor: '743-2',
      streamId: 'chat-x',
      version: 2,
      type: 'MessagePosted',
      data: { chatId: 'groceries', messageId: 'm', position: 1, role: 'user', content: 'milk' },
      metadata: {},
      recordedAt: new Date('2026-03-02T10:00:01.000Z'),
    } as unknown as RecordedEvent;
    const event = parseServerFrame(eventFrame('s1', recorded));
    expect(event).toEqual({
      type: 'event',
      subscription: 's1',
      position: 2,
      cursor: '743-2',
      streamId: 'chat-x',
      version: 2,
      eventType: 'MessagePosted',
      data: recorded.data,
      recordedAt: '2026-03-02T10:00:01.000Z',
    });
    const erased = parseServerFrame(eventFrame('s1', { ...recorded, streamId: 'erased-5f1c', data: { ...tombstoneOf('e-1') } } as unknown as RecordedEvent));
    expect(erased).toMatchObject({ type: 'event', position: 2, cursor: '743-2', eventType: 'MessagePosted', data: { erased: true, erasureId: 'e-1' } });
    expect(erased?.type === 'event' && isErased(erased)).toBe(true);
    expect(event?.type === 'event' && isErased(event)).toBe(false);
    expect(parseServerFrame(caughtUpFrame('s1', '745-2'))).toEqual({ type: 'caught_up', subscription: 's1', cursor: '745-2' });
    expect(parseServerFrame(unsubscribedFrame('s1'))).toEqual({ type: 'unsubscribed', subscription: 's1' });
    const ack: Ack = { id: 'c1', messageId: 'm', position: 2, cursor: '760-4', version: 3, duplicate: false };
    expect(parseServerFrame(ackFrame(ack))).toEqual({ type: 'ack', ...ack });
    expect(parseServerFrame(signalFrameFor('s1', { chatId: 'g', kind: 'typing', data: {} }))).toEqual({ type: 'signal', subscription: 's1', chatId: 'g', kind: 'typing', data: {} });
    expect(parseServerFrame(pongFrame('p1'))).toEqual({ type: 'pong', id: 'p1' });
    expect(parseServerFrame(pongFrame(undefined))).toEqual({ type: 'pong' });
    const error = parseServerFrame(errorFrame(new LakechatError('LAKECHAT_ERR_WS_RATE_LIMITED', undefined, { details: { retryAfterMs: 5 } }), 'c1'));
    expect(error).toEqual({ type: 'error', id: 'c1', code: 'LAKECHAT_ERR_WS_RATE_LIMITED', message: errorCatalogue.LAKECHAT_ERR_WS_RATE_LIMITED.message, details: { retryAfterMs: 5 } });
    expect(parseServerFrame('{not json')).toBeNull();
    expect(parseServerFrame('{"type":"mystery"}')).toBeNull();
  });

  it('retries only codes the server gives a 429 or 5xx status', () => {
    for (const code of retryableCodes) {
      const spec = errorCatalogue[code as ErrorCode];
      expect(spec, code).toBeDefined();
      expect(spec.status === 429 || spec.status >= 500, code).toBe(true);
    }
    expect(retryableCodes).toContain('LAKECHAT_ERR_PROJECTION_TIMEOUT');
    expect(retryableCodes).toContain('LAKECHAT_ERR_WS_RATE_LIMITED');
    expect(errorCatalogue.LAKECHAT_ERR_STORE_INVALID_CURSOR.status).toBe(400);
  });

  it('stops on exactly the server\'s "do not reconnect" close codes', () => {
    for (const code of [closeCodes.noIdentity, closeCodes.forbiddenOrigin, closeCodes.tooManyConnections, closeCodes.policyViolation, closeCodes.messageTooBig])
      expect(closeCodeStops(code), String(code)).toBe(true);
    for (const code of [closeCodes.serverRestarting, closeCodes.slowConsumer, closeCodes.heartbeatMissed, 4000, 4099, 1006, 1001, 1011])
      expect(closeCodeStops(code), String(code)).toBe(false);
  });
});
