import { describe, expect, it } from "vitest";
import { buildFilter } from "../src/filter";

describe("buildFilter", () => {
  it("writes one condition plainly and several under $and", () => {
    expect(buildFilter([{ field: "type", op: "=", value: "document" }]))
      .toEqual({ type: "document" });
    expect(buildFilter([
      { field: "year", op: ">=", value: "2020" },
      { field: "tags", op: "in", value: "a, b, 3" },
      { field: "draft", op: "exists", value: "false" },
    ])).toEqual({ $and: [{ year: { $gte: 2020 } }, { tags: { $in: ["a", "b", 3] } },
      { draft: { $exists: false } }] });
  });
  it("reads values as JSON where they parse, and skips rows without a field", () => {
    expect(buildFilter([{ field: "a.b", op: "!=", value: '"7"' },
      { field: " ", op: "=", value: "x" }]))
      .toEqual({ "a.b": { $ne: "7" } });
    expect(buildFilter([{ field: "ok", op: "=", value: "true" }])).toEqual({ ok: true });
    expect(buildFilter([{ field: "n", op: "not in", value: "[1, 2]" }]))
      .toEqual({ n: { $nin: [1, 2] } });
    expect(buildFilter([])).toEqual({});
  });
  it("compares with an object or a list through $eq, and takes one JSON value as a list", () => {
    expect(buildFilter([{ field: "o", op: "=", value: '{"$gt": 3}' }]))
      .toEqual({ o: { $eq: { $gt: 3 } } });
    expect(buildFilter([{ field: "t", op: "in", value: '"a,b"' }]))
      .toEqual({ t: { $in: ["a,b"] } });
    expect(buildFilter([{ field: "t", op: "in", value: "7" }])).toEqual({ t: { $in: [7] } });
  });
  it("matches any or none of the conditions, and negates one", () => {
    const conditions = [
      { field: "type", op: "=" as const, value: "a" },
      { field: "n", op: ">" as const, value: "3" },
    ];
    expect(buildFilter(conditions, "any")).toEqual({ $or: [{ type: "a" }, { n: { $gt: 3 } }] });
    expect(buildFilter(conditions, "none"))
      .toEqual({ $not: { $or: [{ type: "a" }, { n: { $gt: 3 } }] } });
    expect(buildFilter([conditions[0]], "any")).toEqual({ type: "a" });
    expect(buildFilter([conditions[0]], "none")).toEqual({ $not: { type: "a" } });
    expect(buildFilter([{ ...conditions[0], negate: true }, conditions[1]]))
      .toEqual({ $and: [{ $not: { type: "a" } }, { n: { $gt: 3 } }] });
    expect(buildFilter([], "none")).toEqual({});
  });
});
