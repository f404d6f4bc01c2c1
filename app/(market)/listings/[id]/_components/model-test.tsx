"use client";
// Test a stored model with its stored key (the server decrypts and sends the request).
import { useState } from "react";
import { Button, ErrorBox } from "@/components/ui/form";
import { api } from "../../../_components/api";
import { ConnectionResultView, type ConnectionResult } from "../../../create/model/_components/connection-result";

export function ModelTest({ listingId }: { listingId: string }) {
  const [state, setState] = useState<{ kind: "idle" | "running" } | { kind: "ok"; result: ConnectionResult } | { kind: "error"; message: string }>({ kind: "idle" });
  const run = async () => {
    setState({ kind: "running" });
    try {
      setState({ kind: "ok", result: (await api<ConnectionResult>(`/api/models/${listingId}/test`, { method: "POST" })).body });
    } catch (error) {
      setState({ kind: "error", message: (error as Error).message });
    }
  };
  return (
    <div className="mt-4 space-y-3">
      <Button variant="secondary" onClick={run} disabled={state.kind === "running"}>
        {state.kind === "running" ? "Testing…" : "Test connection"}
      </Button>
      {state.kind === "ok" ? <ConnectionResultView result={state.result} /> : null}
      {state.kind === "error" ? <ErrorBox>{state.message}</ErrorBox> : null}
    </div>
  );
}
