// Creator view of one listing: queries and revenue per day, holders, the apps that use it, price edits.
import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { SlotView } from "./_components/slot-view";

export const metadata: Metadata = { title: "Listing earnings" };

export default async function ListingEarningsPage({ params }: { params: Promise<{ slot: string }> }) {
  const { slot } = await params;
  if (!/^[1-9][0-9]{0,18}$/.test(slot)) notFound();
  return <SlotView slot={slot} />;
}
