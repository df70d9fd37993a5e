// Value validation against a feature definition: type, range, allowed values, dimension, null policy.
import type { FeatureDefinition } from "./definitions";

export type ValidationRule =
  | "unknown_feature"
  | "wrong_entity_type"
  | "not_writable"
  | "type"
  | "finite"
  | "min_value"
  | "max_value"
  | "allowed_values"
  | "dimension"
  | "null_policy";

export interface ValueViolation {
  feature: string;
  rule: ValidationRule;
  message: string;
  value?: unknown;
}

/** Checks one value; returns undefined when it is valid. `null`/`undefined` is judged by null_policy. */
export function validateValue(def: FeatureDefinition, value: unknown): ValueViolation | undefined {
  const fail = (rule: ValidationRule, message: string): ValueViolation => ({ feature: def.name, rule, message, value });
  if (value === null || value === undefined) {
    return def.null_policy === "reject" ? fail("null_policy", `${def.name} does not accept null (null_policy: reject)`) : undefined;
  }
  switch (def.feature_type) {
    case "numerical": {
      if (typeof value !== "number") return fail("type", `${def.name} must be a finite number, got ${describe(value)}`);
      if (!Number.isFinite(value)) return fail("finite", `${def.name} must be a finite number, got ${describe(value)}`);
      return checkRange(def, value, fail);
    }
    case "categorical": {
      if (typeof value !== "string") return fail("type", `${def.name} must be a string category, got ${describe(value)}`);
      if (def.allowed_values && !def.allowed_values.includes(value))
        return fail("allowed_values", `${def.name}: "${value}" is not one of ${def.allowed_values.join(", ")}`);
      return undefined;
    }
    case "array": {
      if (!Array.isArray(value)) return fail("type", `${def.name} must be an array, got ${describe(value)}`);
      const itemType = def.item_type ?? "string";
      for (const item of value as unknown[]) {
        if (typeof item !== itemType) return fail("type", `${def.name} items must be ${itemType}s, got ${describe(item)}`);
        if (typeof item === "number" && !Number.isFinite(item))
          return fail("finite", `${def.name} items must be finite numbers, got ${describe(item)}`);
        if (itemType === "string" && def.allowed_values && !def.allowed_values.includes(item as string))
          return fail("allowed_values", `${def.name}: "${String(item)}" is not one of ${def.allowed_values.join(", ")}`);
        if (itemType === "number") {
          const v = checkRange(def, item as number, fail);
          if (v) return v;
        }
      }
      return undefined;
    }
    case "embedding": {
      if (!Array.isArray(value) || !(value as unknown[]).every((x) => typeof x === "number"))
        return fail("type", `${def.name} must be an array of finite numbers`);
      if (!(value as number[]).every(Number.isFinite)) return fail("finite", `${def.name} must be an array of finite numbers`);
      if (def.dimension !== undefined && (value as unknown[]).length !== def.dimension)
        return fail("dimension", `${def.name} must have dimension ${def.dimension}, got ${(value as unknown[]).length}`);
      return undefined;
    }
  }
}

function checkRange(
  def: FeatureDefinition,
  value: number,
  fail: (rule: ValidationRule, message: string) => ValueViolation,
): ValueViolation | undefined {
  if (def.min_value !== undefined && value < def.min_value)
    return fail("min_value", `${def.name}: ${value} is below min_value ${def.min_value}`);
  if (def.max_value !== undefined && value > def.max_value)
    return fail("max_value", `${def.name}: ${value} is above max_value ${def.max_value}`);
  return undefined;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "string"
    ? `string "${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`
    : `${typeof value} ${String(value)}`;
}
