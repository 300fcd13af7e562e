// The public task and session API, as one encapsulated fastify plugin: its validator, its
// content types and its auth and rate-limit hooks apply to its routes only, so /healthz,
// /readyz and /v1/ping stay open to load balancers. The user's routes ([http] plugin) get a
// scope of their own beside it, behind the same API keys.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/schema.ts';
import type { Store } from '../../store/index.ts';
import type { ChildState } from '../app.ts';
import { ApiError } from '../errors.ts';
import { Authenticator } from './auth.ts';
import type { ApiContext } from './context.ts';
import { deeperThan } from './depth.ts';
import { RateLimiter } from './rate-limit.ts';
import { buildSchemas } from './schemas.ts';
import { registerSessionRoutes } from './sessions.ts';
import { registerTaskRoutes } from './tasks.ts';
import { typeboxValidator } from './validator.ts';
import type { DroverPlugin } from '../plugin-types.ts';
import { pluginApi } from './plugin-api.ts';


const DRAIN_CHECK_MS = 250;

export interface ApiDeps {
  config: Config;
  store: Store;
  state: ChildState;
  /** Called with the tenant of every request refused 429 RATE_LIMITED. */
  rateLimited?: (tenant: string) => void;
  /** The user's routes ([http] plugin), registered behind the same auth. */
  plugin?: DroverPlugin;
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const { config, store, state } = deps;
  const auth = new Authenticator(config.auth.keys, config.limits.failed_auth_per_minute);
  const limiter = new RateLimiter(store, config.limits, deps.rateLimited);

  // Draining is a flag the child flips; long polls and event streams must learn of it soon,
  // so the child's last connections close and clients reconnect elsewhere.
  const stopping = new AbortController();
  const watch = setInterval(() => {
    if (!state.draining) return;
    stopping.abort();
    clearInterval(watch);
  }, DRAIN_CHECK_MS);
  watch.unref();

  state.storeFault = () => store.fault();
  const ctx: ApiContext = { config, store, schemas: buildSchemas(config), stop: stopping.signal };

  // On the root: the API's routes and the user's, each in a scope of their own, set it.
  app.decorateRequest('tenant', '');
  // Before validation and long before the store: every walk over the body after this one
  // (schema checks, JSON.stringify) may recurse.
  const tooDeep = (request: FastifyRequest): ApiError | undefined =>
    request.body !== undefined && deeperThan(request.body, config.limits.max_json_depth)
      ? new ApiError(400, 'BODY_TOO_DEEP', `the body nests arrays and objects more than ${config.limits.max_json_depth} levels deep (limits.max_json_depth)`)
      : undefined;

  app.register(async (api) => {
    api.setValidatorCompiler(typeboxValidator);
    // JSON only: fastify's default text/plain parser would hand a string to the schema and
    // turn a wrong Content-Type into a confusing 400 instead of a 415.
    api.removeContentTypeParser('text/plain');
    api.addHook('onRequest', async (request, reply) => {
      request.tenant = auth.tenant(request.headers, request.ip);
      await limiter.take(request.tenant, reply);
    });
    api.addHook('preValidation', async (request) => {
      const err = tooDeep(request);
      if (err) throw err;
    });
    api.addHook('onClose', async () => clearInterval(watch));
    registerTaskRoutes(api, ctx);
    registerSessionRoutes(api, ctx);
  });

  // The user's routes: the same keys and failed-key lockout, errors in drover's shape (the
  // root's handler), fastify's own validator and content types. The tenant's request rate only
  // where the plugin asks (drover.rateLimit): its routes may answer a provider's callbacks or
  // probes of their own, and the limiter costs a store write (one per tenant per turn of the
  // event loop). (A plugin that registers a route the API has fails the child's boot.)
  const plugin = deps.plugin;
  if (plugin) {
    app.register(async (scope) => {
      // Callback hooks, not async ones: with nothing to wait for, a request reaches its handler
      // in the same turn it was read, as a route of drover's own does (see QuickFirst).
      scope.addHook('onRequest', (request, _reply, done) => {
        try {
          request.tenant = auth.tenant(request.headers, request.ip);
        } catch (err) {
          return done(err as Error);
        }
        done();
      });
      scope.addHook('preValidation', (request, _reply, done) => done(tooDeep(request)));
      await scope.register(plugin, pluginApi(ctx, state.id, limiter));
    });
  }
}
