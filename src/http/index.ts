export { registerApi, type ApiOptions, type LakechatServices } from './api.ts';
export { installErrorEnvelope, sendError, toClientError, type ErrorEnvelope } from './error-envelope.ts';
export { etagOf, parseIfMatch } from './etag.ts';
export { resolveIdentity, type Identity, type IdentityOptions } from './identity.ts';
export { requestIdFrom } from './request-context.ts';
export { validInput } from './validation.ts';
