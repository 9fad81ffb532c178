/**
 * Who may call what. Roles are ordered: an operator may do what a viewer may, an admin what an operator may.
 * Every route declares its access in `config.access` (see access.plugin.ts); `public` routes are a short,
 * explicit list (probes, /metrics, signed webhooks, the API's own description).
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type Access = Role | 'public';

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** Whether a caller holding `held` may use a route that needs `needed`. */
export const roleAllows = (held: Role, needed: Role): boolean => ROLES.indexOf(held) >= ROLES.indexOf(needed);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route: checked before anything else runs (see access.plugin.ts). */
    access?: Access;
  }
}
