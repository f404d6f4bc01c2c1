"use client";
// Queries and net revenue per UTC day for one listing.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatAmount, toChartNumber, type TokenDisplay } from "@/lib/chain/format";
import type { DailyRow } from "@/lib/chain/reports";
import { axisWidth, valueTicks } from "../../../_components/chart-axes";

export function ActivityChart({ days, token }: { days: DailyRow[]; token: TokenDisplay }) {
  if (days.length === 0) {
    return <div className="grid h-48 place-items-center rounded-lg border border-dashed border-line text-sm text-muted">No settled queries yet.</div>;
  }
  const data = days.map((day) => ({ day: day.day, queries: day.queries, revenue: toChartNumber(day.net, token.decimals), revenueLabel: formatAmount(day.net, token) }));
  const summary = days.map((day) => `${day.day}: ${day.queries} queries, ${formatAmount(day.net, token)}`).join("; ");
  const queries = valueTicks(Math.max(...data.map((d) => d.queries)), { integer: true });
  const revenue = valueTicks(Math.max(...data.map((d) => d.revenue)));
  const revenueName = `Revenue (net, ${token.symbol})`;
  return (
    <figure className="h-56 w-full" aria-label={`Queries and revenue per day. ${summary}`}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          {/* One bar per UTC day (the rows are per day already); labels that would overlap are skipped, never repeated. */}
          <XAxis dataKey="day" allowDuplicatedCategory={false} interval="preserveStartEnd" minTickGap={16} tick={{ fontSize: 11, fill: "#475569" }} />
          <YAxis yAxisId="q" domain={[0, queries.ticks[queries.ticks.length - 1]]} ticks={queries.ticks} tickFormatter={queries.format} interval={0} tick={{ fontSize: 11, fill: "#475569" }} width={axisWidth(queries)} />
          <YAxis
            yAxisId="r"
            orientation="right"
            domain={[0, revenue.ticks[revenue.ticks.length - 1]]}
            ticks={revenue.ticks}
            tickFormatter={revenue.format}
            interval={0}
            tick={{ fontSize: 11, fill: "#475569" }}
            width={axisWidth(revenue)}
          />
          <Tooltip formatter={(value, name, item) => (name === revenueName ? [(item.payload as { revenueLabel: string }).revenueLabel, name] : [value, name])} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar yAxisId="q" dataKey="queries" name="Queries" fill="#99f6e4" isAnimationActive={false} />
          <Bar yAxisId="r" dataKey="revenue" name={revenueName} fill="#0f766e" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
