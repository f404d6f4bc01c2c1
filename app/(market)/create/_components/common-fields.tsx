"use client";
// The fields every listing has: name, description, tags and price per query.
import { Field, inputClass } from "@/components/ui/form";
import { MAX_PRICE_TOKENS } from "@/lib/listings/schemas";

export type CommonValues = { name: string; description: string; tags: string; price: string };
export const EMPTY_COMMON: CommonValues = { name: "", description: "", tags: "", price: "" };

export interface TokenDisplay {
  symbol: string;
  decimals: number;
}

export function CommonFields({
  values,
  onChange,
  errors,
  token,
  kind,
}: {
  values: CommonValues;
  onChange: (values: CommonValues) => void;
  errors: Record<string, string>;
  token: TokenDisplay;
  kind: string;
}) {
  const set = (key: keyof CommonValues) => (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    onChange({ ...values, [key]: event.target.value });
  return (
    <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
      <div className="sm:col-span-2">
        <Field id="name" label="Name" required hint="3–80 characters, shown in the marketplace." error={errors.name}>
          <input id="name" name="name" className={inputClass} value={values.name} onChange={set("name")} maxLength={80} required aria-invalid={Boolean(errors.name)} />
        </Field>
      </div>
      <div className="sm:col-span-2">
        <Field id="description" label="Description" required hint={`What this ${kind} is and what it is good for (10–2,000 characters). It goes into the on-chain metadata.`} error={errors.description}>
          <textarea
            id="description"
            name="description"
            rows={3}
            className={inputClass}
            value={values.description}
            onChange={set("description")}
            maxLength={2000}
            required
            aria-invalid={Boolean(errors.description)}
          />
        </Field>
      </div>
      <Field id="tags" label="Tags" hint="Comma-separated, up to 8 (e.g. history, law, medicine)." error={errors.tags}>
        <input id="tags" name="tags" className={inputClass} value={values.tags} onChange={set("tags")} placeholder="history, speeches" aria-invalid={Boolean(errors.tags)} />
      </Field>
      <Field
        id="price"
        label={`Price per query (${token.symbol})`}
        hint={`Paid to this ${kind}'s shareholders on every query that uses it. 0 to ${MAX_PRICE_TOKENS}, at most ${token.decimals} decimals.`}
        error={errors.price}
      >
        <input
          id="price"
          name="price"
          inputMode="decimal"
          className={inputClass}
          value={values.price}
          onChange={set("price")}
          placeholder="0.002"
          required
          aria-invalid={Boolean(errors.price)}
        />
      </Field>
    </div>
  );
}

/** Client-side checks mirroring the server's, so most mistakes are caught before anything is sent. */
export function checkCommon(values: CommonValues, token: TokenDisplay): Record<string, string> {
  const errors: Record<string, string> = {};
  if (values.name.trim().length < 3) errors.name = "must be at least 3 characters";
  if (values.description.trim().length < 10) errors.description = "must be at least 10 characters";
  const tags = values.tags.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length > 8) errors.tags = "at most 8 tags";
  const price = values.price.trim();
  if (!/^\d{1,9}(\.\d+)?$/.test(price)) errors.price = "must be a decimal number such as 0.002";
  else if ((price.split(".")[1] ?? "").length > token.decimals) errors.price = `${token.symbol} has ${token.decimals} decimals`;
  else if (Number(price) > MAX_PRICE_TOKENS) errors.price = `must be at most ${MAX_PRICE_TOKENS} per query`;
  return errors;
}
