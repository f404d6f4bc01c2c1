"use client";
// Dataset upload: files and archives (limits shown up front and checked before sending), the listing's
// fields, and a progress bar per file. Each file goes up with the tus resumable protocol (tus-js-client
// against /api/uploads): a dropped connection retries from the server's offset, and a file added again
// after the tab was closed resumes where it stopped. Then the draft is made from the finished uploads; on
// success the browser goes to the draft's page (indexing progress and the listing transaction), after
// showing any document the server refused.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { Progress } from "@/components/ui/progress";
import { ACCEPTED_EXTENSIONS, ARCHIVE_EXTENSIONS, CHUNKING, DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";
import { fieldErrors } from "../../../_components/api";
import { checkFile, uploadFile } from "../../../_components/uploads";
import { CommonFields, EMPTY_COMMON, checkCommon, type CommonValues, type TokenDisplay } from "../../_components/common-fields";
import { SignInGate } from "../../_components/sign-in-gate";

type Phase =
  | { kind: "idle" }
  | { kind: "uploading"; sent: number; total: number }
  | { kind: "processing" }
  | { kind: "refused"; id: string; refused: { name: string; message: string }[] }
  | { kind: "error"; message: string };

/** One file's upload: bytes the server has, and its upload id once finished. */
type Sent = { sent: number; id?: string; error?: string };

/** A selected file and what is known of it: being checked, fine (null), or refused with a reason. */
type Selected = { file: File; problem: string | null | "checking" };

async function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => null) };
}

export function DatasetForm({ token }: { token: TokenDisplay }) {
  const router = useRouter();
  const input = useRef<HTMLInputElement>(null);
  const [selected, setSelected] = useState<Selected[]>([]);
  const [common, setCommon] = useState<CommonValues>(EMPTY_COMMON);
  const [license, setLicense] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [dragging, setDragging] = useState(false);
  const [sent, setSent] = useState<Record<string, Sent>>({});

  // Refused files stay listed (marked) until removed, but are never sent: one bad file does not hold
  // back the others.
  const files = selected.filter((s) => s.problem === null).map((s) => s.file);
  const refused = selected.filter((s) => s.problem !== null && s.problem !== "checking").length;
  const checking = selected.some((s) => s.problem === "checking");
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const mark = (file: File, problem: Selected["problem"]) => setSelected((all) => all.map((s) => (s.file === file ? { file, problem } : s)));
  const addFiles = (list: FileList | null) => {
    if (!list) return;
    const added = Array.from(list).filter((file) => !selected.some((s) => s.file.name === file.name));
    setSelected((all) => [...all, ...added.map((file) => ({ file, problem: "checking" as const }))]);
    for (const file of added) void checkFile(file).then((problem) => mark(file, problem));
    setErrors((e) => ({ ...e, files: "" }));
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const found = checkCommon(common, token);
    if (license.trim().length < 2) found.license = "say under which terms the documents may be used";
    if (checking) found.files = "Some files are still being checked: try again in a moment.";
    else if (files.length === 0) found.files = refused ? "None of the files can be used: remove the refused ones and add others." : "Add at least one file.";
    else if (files.length > DATASET_LIMITS.maxFiles) found.files = `At most ${DATASET_LIMITS.maxFiles} files.`;
    setErrors(found);
    if (Object.keys(found).length) return;

    setPhase({ kind: "uploading", sent: 0, total: total || 1 });
    try {
      // Two files at a time; a file already uploaded (an earlier attempt) is not sent again.
      const ids: string[] = new Array(files.length);
      const progress = { ...sent };
      const report = () => {
        setSent({ ...progress });
        const done = files.reduce((sum, f) => sum + (progress[f.name]?.sent ?? 0), 0);
        setPhase({ kind: "uploading", sent: done, total: total || 1 });
      };
      let next = 0;
      const worker = async () => {
        while (next < files.length) {
          const i = next++;
          const file = files[i];
          const known = progress[file.name];
          if (known?.id) {
            ids[i] = known.id;
            continue;
          }
          progress[file.name] = { sent: 0 };
          report();
          try {
            const id = await uploadFile(file, (bytes) => {
              progress[file.name] = { sent: bytes };
              report();
            });
            progress[file.name] = { sent: file.size, id };
            ids[i] = id;
          } catch (error) {
            progress[file.name] = { sent: progress[file.name]?.sent ?? 0, error: (error as Error).message };
            report();
            throw error;
          }
          report();
        }
      };
      await Promise.all([worker(), worker()]);
      setPhase({ kind: "processing" });
      const { status, body } = await postJson("/api/datasets", {
        name: common.name,
        description: common.description,
        tags: common.tags,
        price: common.price,
        license,
        uploads: ids,
      });
      if (status === 201) {
        const created = body as { id: string; refused?: { name: string; message: string }[] };
        if (created.refused?.length) {
          // The rows keep showing "uploaded" beside the list of refused documents and the draft's link.
          setPhase({ kind: "refused", id: created.id, refused: created.refused });
          return;
        }
        router.push(`/listings/${created.id}`);
        return;
      }
      const error = (body as { error?: { message?: string; files?: { name: string; message: string }[] } } | null)?.error;
      const message = error?.message ?? `The server answered ${status}.`;
      if (error?.files?.length) {
        setPhase({ kind: "refused", id: "", refused: error.files });
        return;
      }
      setErrors(fieldErrors(message));
      setPhase({ kind: "error", message });
    } catch (error) {
      setPhase({ kind: "error", message: `${(error as Error).message} Click again to resume: what reached the server is kept.` });
    }
  };

  const busy = phase.kind === "uploading" || phase.kind === "processing";
  return (
    <SignInGate what="a dataset">
      <form onSubmit={submit} className="space-y-8" noValidate aria-busy={busy}>
        <section className="space-y-4 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
          <div>
            <h2 className="text-base font-semibold text-ink">Documents</h2>
            <p className="mt-1 text-sm text-muted" data-testid="upload-limits">
              {ACCEPTED_EXTENSIONS.filter((e) => e !== ".markdown" && e !== ".htm").join(", ")}, or archives of them ({ARCHIVE_EXTENSIONS.join(", ")}) ·
              up to {DATASET_LIMITS.maxFiles.toLocaleString("en-US")} documents · {formatBytes(DATASET_LIMITS.maxFileBytes)} per document ·{" "}
              {formatBytes(DATASET_LIMITS.maxTotalBytes)} in total. Uploads resume after a dropped connection. Types are checked by
              content, so text files without an extension (LICENSE, GPL-3, README) are welcome; PDFs need a text layer (scans must be OCRed
              first). Files are stored encrypted and only you can download them.
            </p>
          </div>
          <div
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={(e) => {
              e.preventDefault();
              setDragging(false);
              addFiles(e.dataTransfer.files);
            }}
            className={`rounded-lg border-2 border-dashed px-4 py-8 text-center ${dragging ? "border-brand-500 bg-brand-50" : "border-slate-300"}`}
          >
            <p className="text-sm text-muted">Drop files here, or</p>
            <label htmlFor="files" className="mt-2 inline-flex cursor-pointer rounded-lg border border-line bg-white px-4 py-2 text-sm font-medium text-ink shadow-sm hover:bg-slate-50">
              Choose files
            </label>
            <input
              ref={input}
              id="files"
              name="files"
              type="file"
              multiple
              // No `accept` filter: it can only list extensions, and would hide extension-less text
              // files such as LICENSE or GPL-3. The server decides every file's type by its content.
              className="sr-only"
              onChange={(e) => {
                addFiles(e.target.files);
                e.target.value = "";
              }}
              disabled={busy}
            />
          </div>
          {selected.length > 0 ? (
            <ul className="divide-y divide-line rounded-lg border border-line" aria-label="Selected files">
              {selected.map(({ file, problem }) => {
                const bad = problem !== null && problem !== "checking";
                return (
                  <li
                    key={file.name}
                    className={`flex flex-wrap items-center justify-between gap-x-3 gap-y-1 px-3 py-2 text-sm ${bad ? "bg-red-50" : ""}`}
                    data-testid="selected-file"
                    data-state={problem === null ? "ok" : bad ? "refused" : "checking"}
                  >
                    <span className={`min-w-0 truncate ${bad ? "text-red-800 line-through" : "text-ink"}`}>{file.name}</span>
                    <span className="flex shrink-0 items-center gap-3">
                      <span className="tabular-nums text-muted" data-testid="file-progress" data-state={sent[file.name]?.id ? "uploaded" : sent[file.name]?.error ? "failed" : sent[file.name] ? "uploading" : "waiting"}>
                        {problem === "checking"
                          ? "checking…"
                          : sent[file.name]
                            ? sent[file.name].id
                              ? `uploaded · ${formatBytes(file.size)}`
                              : `${Math.floor((100 * sent[file.name].sent) / Math.max(file.size, 1))}% of ${formatBytes(file.size)}`
                            : formatBytes(file.size)}
                      </span>
                      <button
                        type="button"
                        className="text-xs font-medium text-muted hover:text-red-700"
                        onClick={() => setSelected(selected.filter((s) => s.file !== file))}
                        disabled={busy}
                        aria-label={`Remove ${file.name}`}
                      >
                        Remove
                      </button>
                    </span>
                    {bad ? (
                      <span className="w-full text-xs text-red-800 wrap-anywhere" data-testid="file-problem">
                        Refused, not uploaded: {problem}
                      </span>
                    ) : null}
                  </li>
                );
              })}
              <li className="flex justify-between px-3 py-2 text-xs text-muted">
                <span>
                  {files.length} {files.length === 1 ? "file" : "files"}{refused ? ` · ${refused} refused, left out` : ""}
                </span>
                <span>{formatBytes(total)}</span>
              </li>
            </ul>
          ) : null}
          {errors.files ? <ErrorBox testId="files-error">{errors.files}</ErrorBox> : null}
          <p className="text-xs text-muted">
            Text is split into passages of up to {CHUNKING.maxChars} characters along paragraphs and sentences, each repeating the last ~{CHUNKING.overlapChars}{" "}
            characters of the one before, and indexed for keyword (BM25) search.
          </p>
        </section>

        <section className="space-y-5 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
          <h2 className="text-base font-semibold text-ink">Listing</h2>
          <CommonFields values={common} onChange={setCommon} errors={errors} token={token} kind="dataset" />
          <Field id="license" label="License" required hint="Under which terms the documents may be used (e.g. Public domain, CC BY 4.0)." error={errors.license}>
            <input id="license" name="license" className={inputClass} value={license} onChange={(e) => setLicense(e.target.value)} aria-invalid={Boolean(errors.license)} />
          </Field>
        </section>

        {phase.kind === "uploading" ? (
          <Progress label="Uploading" value={phase.sent} max={phase.total} detail={`${formatBytes(phase.sent)} of ${formatBytes(phase.total)}`} testId="upload-progress" />
        ) : null}
        {phase.kind === "processing" ? <Progress label="Checking the files and extracting their text…" testId="upload-progress" /> : null}
        {phase.kind === "error" ? <ErrorBox testId="upload-error">{phase.message}</ErrorBox> : null}
        {phase.kind === "refused" ? (
          <div className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-4 text-sm text-amber-900" data-testid="refused-documents">
            <p className="font-medium">
              {phase.id ? `The draft was made; ${phase.refused.length} ${phase.refused.length === 1 ? "document was" : "documents were"} refused and left out:` : "None of the documents can be used:"}
            </p>
            <ul className="list-disc space-y-1 pl-5">
              {phase.refused.map((r) => (
                <li key={r.name} className="wrap-anywhere" data-testid="refused-document">
                  {r.message}
                </li>
              ))}
            </ul>
            {phase.id ? (
              <Link href={`/listings/${phase.id}`} className="font-medium text-brand-700 underline" data-testid="go-to-draft">
                Go to the draft
              </Link>
            ) : null}
          </div>
        ) : null}

        <div className="flex justify-end">
          <Button type="submit" disabled={busy} data-testid="create-dataset">
            {busy ? "Uploading…" : refused && files.length ? `Upload ${files.length} ${files.length === 1 ? "file" : "files"} and create draft` : "Upload and create draft"}
          </Button>
        </div>
      </form>
    </SignInGate>
  );
}
