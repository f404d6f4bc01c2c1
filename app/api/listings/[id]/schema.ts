import { z } from "@/lib/zod";
import { listingFieldsSchema } from "@/lib/listings/schemas";

/** PATCH /api/listings/:id: what can change after creation. */
export const editBodySchema = z
  .object({
    description: listingFieldsSchema.shape.description.optional(),
    price: listingFieldsSchema.shape.price.optional(),
  })
  .refine((body) => body.description !== undefined || body.price !== undefined, "send a description, a price, or both");
