/** The object (a store, say), recording the name of every method called on it into `calls`. */
export function countingCalls<S extends object>(target: S, calls: string[]): S {
  return new Proxy(target, {
    get(inner, property) {
      const value = Reflect.get(inner, property, inner);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(inner, args);
      };
    },
  });
}
