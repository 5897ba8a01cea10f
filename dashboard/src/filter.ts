// The filter builder's logic: conditions (field, operator, value as typed, each possibly
// negated) into the filter language of docs/api.md, combined as all of them ($and), any of them
// ($or) or none of them ($not of their $or).

export const OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "in", "not in", "exists"] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Condition {
  field: string;
  op: Operator;
  value: string; // as typed: JSON where it parses ("3", "true", "\"x\""), else a string
  negate?: boolean; // NOT this condition
}

export const MATCHES = ["all", "any", "none"] as const;
export type Match = (typeof MATCHES)[number];

const OPS: Record<Operator, string> = {
  "=": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", in: "$in",
  "not in": "$nin", exists: "$exists",
};

function typed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// A list typed as "a, b, 3" or as a JSON array (one JSON value: a list of it).
function list(text: string): unknown[] {
  const value = typed(text);
  if (Array.isArray(value)) return value;
  if (value !== text) return [value];
  return text.split(",").map((v) => typed(v.trim())).filter((v) => v !== "");
}

export function buildFilter(conditions: Condition[],
  match: Match = "all"): Record<string, unknown> {
  const terms = conditions.filter((c) => c.field.trim()).map((c) => {
    const field = c.field.trim();
    let operand: unknown;
    if (c.op === "in" || c.op === "not in") operand = list(c.value);
    else if (c.op === "exists") operand = c.value.trim() !== "false";
    else operand = typed(c.value);
    // A plain value for "=", but an object or array through $eq (plainly it would read as
    // operators, or be refused).
    const plain = c.op === "=" && (operand === null || typeof operand !== "object");
    const term = { [field]: plain ? operand : { [OPS[c.op]]: operand } };
    return c.negate ? { $not: term } : term;
  });
  if (terms.length === 0) return {};
  const either = terms.length === 1 ? terms[0] : { $or: terms };
  if (match === "any") return either;
  if (match === "none") return { $not: either };
  return terms.length === 1 ? terms[0] : { $and: terms };
}
