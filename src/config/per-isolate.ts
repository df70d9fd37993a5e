// Builds a Worker's dependencies once per isolate: workerd hands every request the same env object.
export function perIsolate<E, D>(build: (env: E) => D): (env: E) => D {
  let cached: { env: E; deps: D } | undefined;
  return (env) => {
    if (cached?.env !== env) cached = { env, deps: build(env) };
    return cached.deps;
  };
}
