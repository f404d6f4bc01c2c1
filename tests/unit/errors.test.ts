import { describe, expect, it } from "vitest";
import { AppError, DATABASE_UNAVAILABLE, isDatabaseUnavailable, toAppError } from "@/lib/errors";

describe("an unreachable database", () => {
  it("is recognised through the driver's and Prisma's errors and their causes", () => {
    expect(isDatabaseUnavailable(new Error("connect ECONNREFUSED 127.0.0.1:5433"))).toBe(true);
    expect(isDatabaseUnavailable(new Error("outer", { cause: new Error("Connection terminated unexpectedly") }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("FATAL"), { code: "57P03" }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error(""), { name: "PrismaClientInitializationError" }))).toBe(true);
    // The embedded server through its Unix socket: the socket file is gone while it is down.
    expect(isDatabaseUnavailable(new Error("connect ENOENT /home/me/kip/data/pg/.s.PGSQL.5433"))).toBe(true);
    expect(isDatabaseUnavailable(new Error("ENOENT: no such file or directory, open 'data/x.json'"))).toBe(false);
    expect(isDatabaseUnavailable(new Error("duplicate key value violates unique constraint"))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });

  it("answers 503 with a message that says so; other unknown errors stay internal", () => {
    const down = toAppError(new Error("x", { cause: new Error("connect ECONNREFUSED 127.0.0.1:5433") }));
    expect(down).toBeInstanceOf(AppError);
    expect({ status: down.status, message: down.message }).toEqual({ status: 503, message: DATABASE_UNAVAILABLE });
    expect(toAppError(new Error("boom")).status).toBe(500);
  });
});
