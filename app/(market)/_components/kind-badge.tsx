const KIND_LABEL: Record<string, string> = { dataset: "Dataset", model: "Model", app: "App" };
const KIND_STYLE: Record<string, string> = {
  dataset: "bg-sky-50 text-sky-800 ring-sky-200",
  model: "bg-violet-50 text-violet-800 ring-violet-200",
  app: "bg-brand-50 text-brand-800 ring-brand-200",
};

export function KindBadge({ kind }: { kind: string }) {
  return (
    <span className={`rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${KIND_STYLE[kind] ?? "bg-slate-50 text-slate-700 ring-slate-200"}`}>
      {KIND_LABEL[kind] ?? kind}
    </span>
  );
}
