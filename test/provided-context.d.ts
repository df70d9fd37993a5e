// Values the global setup provides to the workerd test projects (ports, URLs, key prefix).
declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonWsProxy: string;
    redisRestUrl: string;
    redisRestToken: string;
    redisKeyPrefix: string;
    redisAvailable: boolean;
    testApiKey: string;
    testApiKeys: string;
    /** JSON of a RegistrySnapshot built from features/. */
    registrySnapshot: string;
    /** POST /redis/down|up, /postgres/down|up stops or restarts the fault gateway/relay below. */
    faultControlUrl: string;
    faultRedisRestUrl: string;
    faultRedisToken: string;
    faultRelay: string;
  }
}

export {};
