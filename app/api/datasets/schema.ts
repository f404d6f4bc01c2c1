import { datasetFieldsSchema } from "@/lib/listings/schemas";

/** POST /api/datasets (multipart/form-data): these text fields, plus one or more `files`. */
export const datasetFormSchema = datasetFieldsSchema;
