// What one test request returned: the model's reply, the model it named, and how long it took.
export type ConnectionResult = {
  ok: true;
  provider: string;
  model: string;
  reply: string;
  latencyMs: number;
  usage?: { promptTokens?: number; completionTokens?: number };
};

export function ConnectionResultView({ result }: { result: ConnectionResult }) {
  return (
    <div role="status" data-testid="test-result" className="rounded-lg border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-950">
      <p className="font-medium">
        Connected: <span className="font-mono">{result.model}</span> answered in {result.latencyMs} ms
        {result.usage?.completionTokens !== undefined ? ` (${result.usage.completionTokens} tokens)` : ""}.
      </p>
      <blockquote className="mt-2 whitespace-pre-wrap border-l-2 border-emerald-300 pl-3 text-emerald-900" data-testid="test-reply">
        {result.reply}
      </blockquote>
    </div>
  );
}
