"use client";
// A token's cumulative earnings over time (one point per settlement that credited it).
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { EarningPoint } from "@/lib/chain/reports";
import { formatScaled, toChartNumber, type TokenDisplay } from "@/lib/chain/format";
import { axisWidth, timeTicks, valueTicks } from "./chart-axes";

export function EarningsChart({ points, token, label }: { points: EarningPoint[]; token: TokenDisplay; label: string }) {
  if (points.length === 0) {
    return (
      <div className="grid h-40 place-items-center rounded-lg border border-dashed border-line text-sm text-muted">
        No earnings yet: the chart starts with the first settled query.
      </div>
    );
  }
  const data = [
    { t: points[0].timestamp - 1, total: 0, label: "" },
    ...points.map((point) => ({
      t: point.timestamp,
      total: toChartNumber(point.cumulativeScaled, token.decimals + 6),
      label: formatScaled(point.cumulativeScaled, token),
    })),
  ];
  const summary = `${label}: ${points.length} credits, ${formatScaled(points[points.length - 1].cumulativeScaled, token)} in total.`;
  const time = timeTicks(data[0].t, data[data.length - 1].t);
  const value = valueTicks(Math.max(...data.map((d) => d.total)));
  return (
    <figure className="w-full" aria-label={summary}>
      <figcaption className="sr-only">{summary}</figcaption>
      <p className="mb-1 text-xs text-muted" aria-hidden>
        Earned to date, {token.symbol}
      </p>
      <div className="h-44 w-full">
        <ResponsiveContainer width="100%" height="100%">
          <AreaChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <defs>
              <linearGradient id="earned" x1="0" y1="0" x2="0" y2="1">
                <stop offset="0%" stopColor="#0d9488" stopOpacity={0.35} />
                <stop offset="100%" stopColor="#0d9488" stopOpacity={0.02} />
              </linearGradient>
            </defs>
            <CartesianGrid stroke="#e2e8f0" vertical={false} />
            <XAxis
              dataKey="t"
              type="number"
              domain={["dataMin", "dataMax"]}
              ticks={time.ticks}
              tickFormatter={time.format}
              interval="preserveStartEnd"
              tick={{ fontSize: 11, fill: "#475569" }}
              minTickGap={24}
            />
            <YAxis
              domain={[0, value.ticks[value.ticks.length - 1]]}
              ticks={value.ticks}
              tickFormatter={value.format}
              interval={0}
              tick={{ fontSize: 11, fill: "#475569" }}
              width={axisWidth(value)}
            />
            <Tooltip
              labelFormatter={(t) => new Date(Number(t) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC"}
              formatter={(_value, _name, item) => [(item.payload as { label: string }).label, "Earned to date"]}
            />
            <Area type="stepAfter" dataKey="total" stroke="#0f766e" strokeWidth={2} fill="url(#earned)" isAnimationActive={false} />
          </AreaChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
