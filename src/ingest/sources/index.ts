import type { SourceName } from '../../config/config.js';
import { langfuseSource } from './langfuse.source.js';
import { langwatchSource } from './langwatch.source.js';
import type { WebhookSource } from './source.js';
import { customSource, standardSource } from './toolkit.source.js';

export const WEBHOOK_SOURCES: Record<SourceName, WebhookSource> = {
  langfuse: langfuseSource,
  langwatch: langwatchSource,
  custom: customSource,
  standard: standardSource,
};

export const isSourceName = (name: string): name is SourceName => Object.hasOwn(WEBHOOK_SOURCES, name);
