"use client";
// The creator's tools on an asset's page, each in its own chunk: a visitor's page (every visitor but the
// owner) loads none of their code, the wallet code the listing and editing transactions need included.
import dynamic from "next/dynamic";

export const DraftPanel = dynamic(() => import("./draft-panel").then((m) => m.DraftPanel));
export const EditListing = dynamic(() => import("./edit-listing").then((m) => m.EditListing));
export const DatasetTools = dynamic(() => import("./dataset-tools").then((m) => m.DatasetTools));
export const ModelTest = dynamic(() => import("./model-test").then((m) => m.ModelTest));
export const DatasetVersions = dynamic(() => import("./dataset-versions").then((m) => m.DatasetVersions));
export const ScorecardTools = dynamic(() => import("./scorecard-tools").then((m) => m.ScorecardTools));
