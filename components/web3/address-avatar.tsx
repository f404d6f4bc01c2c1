"use client";
import type { AvatarComponent } from "@rainbow-me/rainbowkit";

/**
 * A deterministic two-colour disc from the address. Replaces RainbowKit's emoji avatar, which renders as
 * a missing glyph where no emoji font is installed, and needs no ENS lookup.
 */
export const AddressAvatar: AvatarComponent = ({ address, size }) => {
  const hex = address.toLowerCase().replace(/^0x/, "");
  const from = `#${hex.slice(0, 6)}`;
  const to = `#${hex.slice(-6)}`;
  return (
    <div
      aria-hidden
      style={{
        width: size,
        height: size,
        borderRadius: "9999px",
        background: `linear-gradient(135deg, ${from}, ${to})`,
      }}
    />
  );
};
