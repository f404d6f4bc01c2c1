"use client";
// Dataset upload: files (limits shown up front and checked before sending), the listing's fields, and
// an upload progress bar. On success the browser goes to the draft's page, where indexing progress
// (a background job on the server) and the listing transaction are.
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { Progress } from "@/components/ui/progress";
import { detectDocument } from "@/lib/rag/detect";
import { ACCEPTED_EXTENSIONS, CHUNKING, DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";
import { fieldErrors } from "../../../_components/api";
import { CommonFields, EMPTY_COMMON, checkCommon, type CommonValues, type TokenDisplay } from "../../_components/common-fields";
import { SignInGate } from "../../_components/sign-in-gate";

type Phase = { kind: "idle" } | { kind: "uploading"; sent: number; total: number } | { kind: "processing" } | { kind: "error"; message: string };

/**
 * What the server would refuse a file for, checked in the browser as it is added: its size, then its type
 * by content (the server's own check, lib/rag/detect.ts). Null when it looks fine; a PDF's text layer is
 * checked only on the server.
 */
async function checkFile(file: File): Promise<string | null> {
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > DATASET_LIMITS.maxFileBytes) return `${file.name} is over ${formatBytes(DATASET_LIMITS.maxFileBytes)}.`;
  try {
    detectDocument(file.name, new Uint8Array(await file.arrayBuffer()));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A selected file and what is known of it: being checked, fine (null), or refused with a reason. */
type Selected = { file: File; problem: string | null | "checking" };

/** POST multipart with upload progress (fetch cannot report upload progress). */
function upload(form: FormData, onProgress: (sent: number, total: number) => void): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/datasets");
    xhr.responseType = "text";
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : event.loaded);
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error("The upload failed: the server could not be reached."));
    xhr.send(form);
  });
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
    else if (total > DATASET_LIMITS.maxTotalBytes) found.files = `The files add up to ${formatBytes(total)}; the limit is ${formatBytes(DATASET_LIMITS.maxTotalBytes)}.`;
    setErrors(found);
    if (Object.keys(found).length) return;

    const form = new FormData();
    form.set("name", common.name);
    form.set("description", common.description);
    form.set("tags", common.tags);
    form.set("price", common.price);
    form.set("license", license);
    for (const file of files) form.append("files", file, file.name);
    setPhase({ kind: "uploading", sent: 0, total: total || 1 });
    try {
      const { status, body } = await upload(form, (sent, all) => {
        setPhase(sent >= all ? { kind: "processing" } : { kind: "uploading", sent, total: all });
      });
      if (status === 201) {
        router.push(`/listings/${(body as { id: string }).id}`);
        return;
      }
      const error = (body as { error?: { message?: string; files?: { name: string; message: string }[] } } | null)?.error;
      const message = error?.message ?? `The server answered ${status}.`;
      if (error?.files?.length) {
        // Files only the server could judge (a PDF without text, say): their rows are marked, and the next
        // click uploads the others.
        for (const problem of error.files) {
          const file = files.find((f) => (f.name.trim().slice(0, 200) || "untitled") === problem.name);
          if (file) mark(file, problem.message);
        }
        setPhase({ kind: "error", message: `${message} The refused files are marked below; the others can be uploaded without them.` });
        return;
      }
      setErrors(fieldErrors(message));
      setPhase({ kind: "error", message });
    } catch (error) {
      setPhase({ kind: "error", message: (error as Error).message });
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
              {ACCEPTED_EXTENSIONS.filter((e) => e !== ".markdown" && e !== ".htm").join(", ")} · up to {DATASET_LIMITS.maxFiles} files ·{" "}
              {formatBytes(DATASET_LIMITS.maxFileBytes)} per file · {formatBytes(DATASET_LIMITS.maxTotalBytes)} in total. Types are checked by
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
                      <span className="tabular-nums text-muted">{problem === "checking" ? "checking…" : formatBytes(file.size)}</span>
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
                  {files.length} of {DATASET_LIMITS.maxFiles} files{refused ? ` · ${refused} refused, left out` : ""}
                </span>
                <span className={total > DATASET_LIMITS.maxTotalBytes ? "text-red-700" : ""}>
                  {formatBytes(total)} of {formatBytes(DATASET_LIMITS.maxTotalBytes)}
                </span>
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

        <div className="flex justify-end">
          <Button type="submit" disabled={busy} data-testid="create-dataset">
            {busy ? "Uploading…" : refused && files.length ? `Upload ${files.length} ${files.length === 1 ? "file" : "files"} and create draft` : "Upload and create draft"}
          </Button>
        </div>
      </form>
    </SignInGate>
  );
}
