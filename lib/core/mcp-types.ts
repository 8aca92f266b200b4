/**
 * The MCP shapes the pool hands to users and takes from drivers, owned by this library.
 *
 * Why not the SDK's types: the core must not depend on one SDK line. SDK 1.x and the v2 client packages
 * each infer their own types from their own schemas, and neither is assignable to the other; a driver on
 * either line returns its SDK's objects, which fit these structural shapes without casts. Every object
 * keeps an index signature because MCP objects are open (servers add `_meta` and future fields).
 */

/** Free-form metadata (`_meta`). */
export type McpMeta = { [key: string]: unknown };

export interface McpAnnotations {
  audience?: Array<'user' | 'assistant'>;
  priority?: number;
  lastModified?: string;
  [key: string]: unknown;
}

export interface McpTextContent {
  type: 'text';
  text: string;
  annotations?: McpAnnotations;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpImageContent {
  type: 'image';
  data: string;
  mimeType: string;
  annotations?: McpAnnotations;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpAudioContent {
  type: 'audio';
  data: string;
  mimeType: string;
  annotations?: McpAnnotations;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpResourceLink {
  type: 'resource_link';
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  [key: string]: unknown;
}

export interface McpTextResourceContents {
  uri: string;
  mimeType?: string;
  text: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpBlobResourceContents {
  uri: string;
  mimeType?: string;
  /** Base64. */
  blob: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export type McpResourceContents = McpTextResourceContents | McpBlobResourceContents;

export interface McpEmbeddedResource {
  type: 'resource';
  resource: McpResourceContents;
  annotations?: McpAnnotations;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export type McpContentBlock = McpTextContent | McpImageContent | McpAudioContent | McpResourceLink | McpEmbeddedResource;

export interface McpToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  [key: string]: unknown;
}

export interface McpJsonObjectSchema {
  type: 'object';
  properties?: { [key: string]: unknown };
  required?: string[];
  [key: string]: unknown;
}

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: McpJsonObjectSchema;
  outputSchema?: McpJsonObjectSchema;
  annotations?: McpToolAnnotations;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpCallToolResult {
  content: McpContentBlock[];
  structuredContent?: { [key: string]: unknown };
  isError?: boolean;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpPromptArgument {
  name: string;
  description?: string;
  required?: boolean;
  [key: string]: unknown;
}

export interface McpPrompt {
  name: string;
  title?: string;
  description?: string;
  arguments?: McpPromptArgument[];
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpPromptMessage {
  role: 'user' | 'assistant';
  content: McpContentBlock;
  [key: string]: unknown;
}

export interface McpGetPromptResult {
  description?: string;
  messages: McpPromptMessage[];
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpResource {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpResourceTemplate {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpReadResourceResult {
  contents: McpResourceContents[];
  _meta?: McpMeta;
  [key: string]: unknown;
}

/** A page of a list result. */
export interface McpPage {
  nextCursor?: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpListToolsResult extends McpPage {
  tools: McpTool[];
}
export interface McpListPromptsResult extends McpPage {
  prompts: McpPrompt[];
}
export interface McpListResourcesResult extends McpPage {
  resources: McpResource[];
}
export interface McpListResourceTemplatesResult extends McpPage {
  resourceTemplates: McpResourceTemplate[];
}

export interface McpCompleteParams {
  ref: { type: 'ref/prompt'; name: string; [key: string]: unknown } | { type: 'ref/resource'; uri: string; [key: string]: unknown };
  argument: { name: string; value: string; [key: string]: unknown };
  context?: { arguments?: { [key: string]: string }; [key: string]: unknown };
  [key: string]: unknown;
}

export interface McpCompleteResult {
  completion: { values: string[]; total?: number; hasMore?: boolean; [key: string]: unknown };
  _meta?: McpMeta;
  [key: string]: unknown;
}

export type McpLoggingLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

/** What the server said it can do (the parts the pool reads; the rest passes through). */
export interface McpServerCapabilities {
  tools?: { listChanged?: boolean; [key: string]: unknown };
  prompts?: { listChanged?: boolean; [key: string]: unknown };
  resources?: { subscribe?: boolean; listChanged?: boolean; [key: string]: unknown };
  logging?: object;
  completions?: object;
  [key: string]: unknown;
}

/** What the client declares (elicitation, sampling, roots, experimental…). */
export interface McpClientCapabilities {
  elicitation?: { form?: { [key: string]: unknown }; url?: { [key: string]: unknown }; [key: string]: unknown };
  sampling?: { [key: string]: unknown };
  roots?: { listChanged?: boolean; [key: string]: unknown };
  [key: string]: unknown;
}

export interface McpRoot {
  uri: string;
  name?: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

/** A progress notification of one request. */
export interface McpProgress {
  progress: number;
  total?: number;
  message?: string;
  [key: string]: unknown;
}

/** The params of an `elicitation/create` request: a form (`requestedSchema`) or a URL to open. */
export type McpElicitParams =
  | { mode?: 'form'; message: string; requestedSchema: { type: 'object'; properties: { [key: string]: unknown }; [key: string]: unknown }; [key: string]: unknown }
  | { mode: 'url'; message: string; url: string; elicitationId: string; [key: string]: unknown };

export interface McpElicitResult {
  action: 'accept' | 'decline' | 'cancel';
  content?: { [key: string]: unknown };
  _meta?: McpMeta;
  [key: string]: unknown;
}

export interface McpSamplingMessage {
  role: 'user' | 'assistant';
  content: unknown;
  [key: string]: unknown;
}

/** The params of a `sampling/createMessage` request. */
export interface McpCreateMessageParams {
  messages: McpSamplingMessage[];
  maxTokens: number;
  systemPrompt?: string;
  [key: string]: unknown;
}

export interface McpCreateMessageResult {
  role: 'user' | 'assistant';
  content: unknown;
  model: string;
  stopReason?: string;
  _meta?: McpMeta;
  [key: string]: unknown;
}

/** Every client-to-server request the pool makes, with its params and result. */
export interface McpRequests {
  'tools/call': { params: { name: string; arguments?: { [key: string]: unknown } }; result: McpCallToolResult };
  'tools/list': { params: { cursor?: string } | undefined; result: McpListToolsResult };
  'prompts/list': { params: { cursor?: string } | undefined; result: McpListPromptsResult };
  'prompts/get': { params: { name: string; arguments?: { [key: string]: string } }; result: McpGetPromptResult };
  'resources/list': { params: { cursor?: string } | undefined; result: McpListResourcesResult };
  'resources/templates/list': { params: { cursor?: string } | undefined; result: McpListResourceTemplatesResult };
  'resources/read': { params: { uri: string }; result: McpReadResourceResult };
  'completion/complete': { params: McpCompleteParams; result: McpCompleteResult };
  'logging/setLevel': { params: { level: McpLoggingLevel }; result: { [key: string]: unknown } };
  ping: { params: undefined; result: { [key: string]: unknown } };
}

export type McpMethod = keyof McpRequests;
export type McpParams<M extends McpMethod> = McpRequests[M]['params'];
export type McpResult<M extends McpMethod> = McpRequests[M]['result'];

/** Every server-to-client request the pool answers, with its params and result. */
export interface McpServerQuestions {
  'elicitation/create': { params: McpElicitParams; result: McpElicitResult };
  'sampling/createMessage': { params: McpCreateMessageParams; result: McpCreateMessageResult };
  'roots/list': { params: { [key: string]: unknown } | undefined; result: { roots: McpRoot[]; [key: string]: unknown } };
}

export type McpServerQuestionMethod = keyof McpServerQuestions;
