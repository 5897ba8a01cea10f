import { describe, expect, it } from "vitest";
import { errorOf } from "../src/api";
import { bytes, duration, parseVector } from "../src/format";

describe("format", () => {
  it("writes bytes and durations as people read them", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(duration(42)).toBe("42s");
    expect(duration(3 * 3600 + 120)).toBe("3h 2m");
    expect(duration(2 * 86400 + 5 * 3600)).toBe("2d 5h");
  });
  it("reads vectors as JSON or as separated numbers, and refuses anything else", () => {
    expect(parseVector("[0.5, -1, 2e3]")).toEqual([0.5, -1, 2000]);
    expect(parseVector(" 1 2,3 ")).toEqual([1, 2, 3]);
    expect(() => parseVector("")).toThrow(/numbers/);
    expect(() => parseVector('["a"]')).toThrow(/numbers/);
    expect(() => parseVector("1 two 3")).toThrow(/numbers/);
  });
});

describe("errorOf", () => {
  it("takes the server's code and message", () => {
    const e = errorOf(404, '{"error":{"code":"COLLECTION_NOT_FOUND","message":"no docs"}}');
    expect([e.status, e.code, e.message]).toEqual([404, "COLLECTION_NOT_FOUND", "no docs"]);
  });
  it("falls back to the status for other answers", () => {
    const e = errorOf(502, "<html>bad gateway</html>");
    expect([e.code, e.message]).toEqual(["HTTP_502", "<html>bad gateway</html>"]);
  });
});
