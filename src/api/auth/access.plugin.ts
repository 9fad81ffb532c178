import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { HttpError } from '../../http/errors.js';
import type { Authenticator, Principal } from './authenticator.js';
import { type Access, roleAllows } from './roles.js';

/**
 * Access control for every route, and the API's rate limits.
 *
 * Every route must declare `config.access` (a role, or `public`); one that does not stops the app from
 * starting, so no route is ever open by omission. The only public routes are the probes, /metrics, the signed
 * webhooks and the API's description under PUBLIC_ROUTE_PREFIXES (registered by @fastify/swagger, which cannot
 * be given a config). `app.routeAccess` lists what each route declared, for the test that walks the table.
 *
 * A protected request is first counted against its client IP (before any lookup, so a flood of bad keys costs
 * no database work), then authenticated (401), then counted against its credential, with a stricter limit for
 * admin writes, and finally authorised (403). The counters live in Redis, so they hold across replicas; if
 * Redis fails, requests are let through rather than refused.
 */

export const PUBLIC_ROUTE_PREFIXES = ['/docs'] as const;

export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

export interface ApiRateLimits {
  /** Requests per window per client IP, and per credential; 0 switches a limit off. */
  perIp: number;
  perKey: number;
  /** Writes (non-GET) to admin routes per window per credential. */
  adminWrites: number;
  windowSeconds: number;
}

export interface AccessPluginOptions {
  authenticator: Authenticator;
  limits: ApiRateLimits;
  /** Shared counters across replicas; in-process counters without it. */
  redis?: Redis;
  redisNamespace: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, on protected routes once authenticated; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    routeAccess: RouteAccess[];
  }
}

async function accessPlugin(app: FastifyInstance, options: AccessPluginOptions) {
  const { authenticator, limits } = options;
  const routes: RouteAccess[] = [];
  app.decorate('routeAccess', routes);
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    const declared = route.config?.access ?? (PUBLIC_ROUTE_PREFIXES.some((p) => route.url.startsWith(p)) ? 'public' : undefined);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!declared) throw new Error(`route ${methods.join(',')} ${route.url} declares no access (config.access: a role or 'public')`);
    route.config = { ...route.config, access: declared };
    for (const method of methods) routes.push({ method, url: route.url, access: declared });
  });

  // Registered in a context of its own: at this level its route hook would also count the webhook routes,
  // which have their own limit. Only its limiter factory is taken out.
  let createRateLimit: FastifyInstance['createRateLimit'] | undefined;
  await app.register(async (scope) => {
    await scope.register(rateLimit, {
      global: false,
      skipOnError: true,
      ...(options.redis ? { redis: options.redis, nameSpace: options.redisNamespace } : {}),
    });
    createRateLimit = scope.createRateLimit.bind(scope);
  });
  const window = limits.windowSeconds * 1000;
  const limiter = (max: number, prefix: string, key: (request: FastifyRequest) => string) =>
    max > 0 ? { max, check: createRateLimit!({ max, timeWindow: window, keyGenerator: (r) => `${prefix}:${key(r)}` }) } : undefined;
  const perIp = limiter(limits.perIp, 'ip', (r) => r.ip);
  const perKey = limiter(limits.perKey, 'key', (r) => r.principal!.id);
  const adminWrites = limiter(limits.adminWrites, 'admin', (r) => r.principal!.id);

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config?.access;
    // Public routes, and requests matching no route (answered 404 by the not-found handler).
    if (access === undefined || access === 'public') return;
    await enforce(perIp, request, reply, 'client address');
    const principal = await authenticator.authenticate(request.headers.authorization);
    request.principal = principal;
    await enforce(perKey, request, reply, 'credential');
    if (access === 'admin' && request.method !== 'GET' && request.method !== 'HEAD') {
      await enforce(adminWrites, request, reply, 'credential for admin changes');
    }
    if (!roleAllows(principal.role, access)) {
      throw new HttpError(403, 'forbidden', `${request.method} ${request.routeOptions.url} needs the ${access} role; this credential has ${principal.role}`);
    }
  });
}

type Limiter = { max: number; check: ReturnType<FastifyInstance['createRateLimit']> } | undefined;

/** Counts the request; sets the RateLimit headers (IETF draft names) and answers 429 with Retry-After when over. */
async function enforce(limiter: Limiter, request: FastifyRequest, reply: FastifyReply, what: string): Promise<void> {
  if (!limiter) return;
  const result = await limiter.check(request);
  if (result.isAllowed) return;
  reply.header('ratelimit-limit', result.max);
  reply.header('ratelimit-remaining', result.remaining);
  reply.header('ratelimit-reset', result.ttlInSeconds);
  if (!result.isExceeded) return;
  throw new HttpError(429, 'rate_limited', `rate limit of ${result.max} requests per ${Math.round(result.timeWindow / 1000)} s per ${what} exceeded; retry in ${result.ttlInSeconds} s`, {
    'retry-after': String(Math.max(1, result.ttlInSeconds)),
  });
}

export default fp(accessPlugin, { name: 'access', dependencies: ['error-handler'] });
