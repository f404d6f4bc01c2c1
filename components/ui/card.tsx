import type { ReactNode } from "react";

export function Card({ title, children, className = "" }: { title?: string; children: ReactNode; className?: string }) {
  return (
    <section className={`min-w-0 rounded-xl border border-line bg-white p-5 shadow-sm ${className}`}>
      {title ? <h2 className="text-sm font-semibold uppercase tracking-wide text-muted">{title}</h2> : null}
      <div className={title ? "mt-3" : ""}>{children}</div>
    </section>
  );
}

/** An honest empty state: what will appear here, and how it gets there. */
export function EmptyState({ title, children, action }: { title: string; children: ReactNode; action?: ReactNode }) {
  return (
    <div className="rounded-xl border border-dashed border-slate-300 bg-white px-6 py-12 text-center">
      <h2 className="text-base font-semibold text-ink">{title}</h2>
      <div className="mx-auto mt-2 max-w-xl text-sm leading-6 text-muted">{children}</div>
      {action ? <div className="mt-6 flex justify-center">{action}</div> : null}
    </div>
  );
}

export function Notice({ tone = "info", children }: { tone?: "info" | "warning"; children: ReactNode }) {
  const styles =
    tone === "warning" ? "border-amber-300 bg-amber-50 text-amber-900" : "border-brand-200 bg-brand-50 text-brand-900";
  return (
    <div role={tone === "warning" ? "alert" : "status"} className={`rounded-lg border px-4 py-3 text-sm wrap-anywhere ${styles}`}>
      {children}
    </div>
  );
}
