// Search, kind and sort as a plain GET form: works without JavaScript, and every result page has a URL.
import type { Sort } from "@/lib/listings/catalog-query";
import { inputClass } from "@/components/ui/form";

export function MarketFilters({ q, kind, sort, sortLabels }: { q: string; kind: string; sort: string; sortLabels: Record<Sort, string> }) {
  return (
    <form method="get" action="/" role="search" className="grid grid-cols-1 gap-3 rounded-xl border border-line bg-white p-4 shadow-sm sm:grid-cols-[minmax(0,1fr)_10rem_12rem_auto]">
      <div>
        <label htmlFor="market-q" className="sr-only">
          Search the marketplace
        </label>
        <input id="market-q" name="q" type="search" defaultValue={q} placeholder="Search names, descriptions and tags" className={inputClass} />
      </div>
      <div>
        <label htmlFor="market-kind" className="sr-only">
          Kind
        </label>
        <select id="market-kind" name="kind" defaultValue={kind} className={inputClass}>
          <option value="">All kinds</option>
          <option value="app">Apps</option>
          <option value="model">Models</option>
          <option value="dataset">Datasets</option>
        </select>
      </div>
      <div>
        <label htmlFor="market-sort" className="sr-only">
          Sort
        </label>
        <select id="market-sort" name="sort" defaultValue={sort} className={inputClass}>
          {q ? <option value="">Best match</option> : null}
          {(Object.entries(sortLabels) as [Sort, string][]).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-brand-800">
        Search
      </button>
    </form>
  );
}
