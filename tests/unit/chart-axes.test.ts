// The dashboard charts' axes: every tick a distinct round value with a distinct label.
import { describe, expect, it } from "vitest";
import { axisWidth, timeTicks, valueTicks } from "@/app/(dashboard)/dashboard/_components/chart-axes";

const labels = ({ ticks, format }: { ticks: number[]; format: (v: number) => string }) => ticks.map(format);
const at = (iso: string) => Date.parse(iso) / 1000;

describe("time ticks", () => {
  it("a few minutes of settlements: distinct minutes, not the same minute five times", () => {
    const axis = timeTicks(at("2026-04-12T10:31:05Z"), at("2026-04-12T10:34:40Z"));
    expect(labels(axis)).toEqual(["10:32", "10:33", "10:34"]);
  });

  it("a few seconds: seconds", () => {
    const axis = timeTicks(at("2026-04-12T10:31:05Z") - 1, at("2026-04-12T10:31:05Z"));
    expect(labels(axis)).toEqual(["10:31:04", "10:31:05"]);
  });

  it("several days: one label per day", () => {
    const got = labels(timeTicks(at("2026-04-01T13:00:00Z"), at("2026-04-09T09:00:00Z")));
    expect(got).toEqual(["04-03", "04-05", "04-07", "04-09"]);
  });

  it("across days within hours: the day is part of the label", () => {
    const got = labels(timeTicks(at("2026-04-12T22:10:00Z"), at("2026-04-13T01:50:00Z")));
    expect(new Set(got).size).toBe(got.length);
    expect(got[0]).toMatch(/^04-12 \d\d:\d\d$/);
    expect(got.at(-1)).toMatch(/^04-13 \d\d:\d\d$/);
  });

  it("never repeats a label, whatever the span", () => {
    const start = at("2026-01-01T00:00:00Z");
    for (const span of [1, 7, 59, 61, 3599, 3601, 86_399, 86_401, 10 * 86_400, 400 * 86_400]) {
      const axis = timeTicks(start + 17, start + 17 + span);
      const got = labels(axis);
      expect(new Set(got).size, `span ${span}`).toBe(got.length);
      expect(got.length, `span ${span}`).toBeGreaterThanOrEqual(2);
      expect(got.length, `span ${span}`).toBeLessThanOrEqual(6);
    }
  });
});

describe("value ticks", () => {
  it("small token amounts keep the digits that tell them apart", () => {
    expect(labels(valueTicks(0.0117))).toEqual(["0.000", "0.005", "0.010", "0.015"]);
    expect(labels(valueTicks(0.00003))).toEqual(["0.00000", "0.00001", "0.00002", "0.00003"]);
  });

  it("larger amounts group thousands", () => {
    expect(labels(valueTicks(4200))).toEqual(["0", "2,000", "4,000", "6,000"]);
    expect(labels(valueTicks(9))).toEqual(["0.0", "2.5", "5.0", "7.5", "10.0"]);
  });

  it("counts are whole numbers, once each", () => {
    expect(labels(valueTicks(1, { integer: true }))).toEqual(["0", "1"]);
    expect(labels(valueTicks(3, { integer: true }))).toEqual(["0", "1", "2", "3"]);
    expect(labels(valueTicks(14, { integer: true }))).toEqual(["0", "5", "10", "15"]);
  });

  it("nothing yet still draws an axis", () => {
    expect(labels(valueTicks(0))).toEqual(["0.00", "0.25", "0.50", "0.75", "1.00"]);
  });

  it("never repeats a label and always reaches the maximum", () => {
    for (const max of [1e-9, 0.000123, 0.5, 1, 3.3, 17, 99.99, 123_456.789]) {
      const axis = valueTicks(max);
      const got = labels(axis);
      expect(new Set(got).size, `max ${max}`).toBe(got.length);
      expect(axis.ticks.at(-1)!, `max ${max}`).toBeGreaterThanOrEqual(max);
    }
  });

  it("sizes the axis for its longest label", () => {
    expect(axisWidth(valueTicks(123_456))).toBeGreaterThan(axisWidth(valueTicks(3, { integer: true })));
  });
});
