export { type ApiOptions, type LakechatServices, registerApi } from './api.ts';
export { registerDemoPage } from './demo-page.ts';
export { answerClientError, answerFrameworkError, type ErrorEnvelope, installErrorEnvelope, sendError, toClientError } from './error-envelope.ts';
export { etagOf, parseIfMatch } from './etag.ts';
export { type Identity, type IdentityOptions, resolveIdentity } from './identity.ts';
export { requestIdFrom } from './request-context.ts';
