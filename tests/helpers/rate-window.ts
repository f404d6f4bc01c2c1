// Rate limits count per minute of the database's clock (lib/http/rate-limit.ts): a burst that crosses a
// minute is split over two windows and allowed up to twice the limit. A test that counts a limit first
// waits (polling that clock) until at least 25 s of the current minute remain, so its burst falls in one.
import type { Db } from "../../lib/db-client";

export async function inOneRateWindow(db: Db): Promise<void> {
  for (;;) {
    const [{ seconds }] = await db.$queryRaw<{ seconds: number }[]>`SELECT extract(second FROM clock_timestamp())::float8 AS seconds`;
    if (seconds < 35) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
