// Catalogue query vocabulary, shared by the marketplace page, the API schema and the server.
export const SORTS = ["newest", "price-asc", "price-desc", "most-used"] as const;
export type Sort = (typeof SORTS)[number];
export const KINDS = ["dataset", "model", "app"] as const;
export type Kind = (typeof KINDS)[number];

export const SORT_LABELS: Record<Sort, string> = {
  newest: "Newest",
  "price-asc": "Price: low to high",
  "price-desc": "Price: high to low",
  "most-used": "Most used",
};
