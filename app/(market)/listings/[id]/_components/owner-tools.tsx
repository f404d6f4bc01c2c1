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
export const LicencePublish = dynamic(() => import("./licence-publish").then((m) => m.LicencePublish));
export const LicencePrices = dynamic(() => import("./licence-publish").then((m) => m.LicencePrices));
// Not an owner tool, but as heavy (chain reads, hashing, the wallet on purchase): only pages that offer licences load it.
export const LicenceOffer = dynamic(() => import("./licence-offer").then((m) => m.LicenceOffer));
