// POST /api/chat: answer one question of a signed-in wallet in one of its conversations with an app,
// streamed as AI SDK UI message chunks. Paid apps need a receipt signed by a registered session key;
// it is checked and stored with the question before the model is called, and voided if the answer fails.
import { getAddress } from "viem";
import { admissionReading, admitFreeQuestion, admitPaidQuestion, missingPayment, type AdmittedQuestion, type PaymentInput } from "@/lib/chat/admission";
import { MAX_HISTORY_TURNS } from "@/lib/ai/prompt";
import { answerResponse } from "@/lib/chat/answer";
import { assertModelAvailable, loadChatApp } from "@/lib/chat/charges";
import { ChatError, chatErrorResponse } from "@/lib/chat/errors";
import { conversationMessages } from "@/lib/chat/store";
import { chatChain, signedInWithinLimits, signInCookie } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { assertSameOrigin, readJsonBody } from "@/lib/errors";
import { modelFetch } from "@/lib/net/model-fetch";
import { answerTimeLimitMs, serverEnv } from "@/lib/env";
import { clientAddress } from "@/lib/http/client-address";
import { chatBodySchema, MAX_CHAT_BODY_BYTES } from "./schema";

export const dynamic = "force-dynamic";
export const maxDuration = 120;

export async function POST(request: Request): Promise<Response> {
  try {
    const env = serverEnv();
    assertSameOrigin(request, env.APP_URL);
    const db = getDb();
    const cookie = await signInCookie();
    const client = clientAddress(request, env.TRUSTED_PROXY_HOPS);
    let body, chain, app;
    try {
      body = await readJsonBody(request, chatBodySchema, { maxBytes: MAX_CHAT_BODY_BYTES });
      chain = chatChain();
      app = await loadChatApp(db, chain, body.appId);
      // A model a recent probe found down: refused before the question or its voucher is stored.
      await assertModelAvailable(db, app, env.MODEL_PROBE_INTERVAL_MS);
    } catch (error) {
      // These come before the sign-in is read (below, with the admission); a refusal here still goes out
      // only to a live sign-in within its limits, and counts against them: anyone else gets that refusal.
      await signedInWithinLimits(db, cookie, client);
      throw error;
    }

    // What is being answered: the new question, or (regenerate) the conversation's last question. A paid
    // new question's admission reads the conversation, with the rest of what it checks, in the statement
    // that reads the sign-in and counts the rate limits: one round trip for all three.
    const regenerate = body.trigger !== "submit-message";
    const paidQuestion = !regenerate && !app.chargeSet.free && body.payment !== undefined;
    const conversation = { conversationId: body.conversationId, appId: app.id };
    const signedIn = await signedInWithinLimits(
      db,
      cookie,
      client,
      paidQuestion ? admissionReading(chain, app.chargeSet, conversation, body.payment!.sessionHash) : undefined,
    );
    const owner = getAddress(signedIn.address);
    // A new question's history is what the model is sent of it, the newest turns; a regenerated answer
    // looks for the conversation's last question.
    const earlier = paidQuestion ? null : await conversationMessages(db, { ...conversation, owner }, regenerate ? undefined : MAX_HISTORY_TURNS);
    let question: string;
    let history = earlier ?? [];
    let replaced: string[] = [];
    if (!regenerate) {
      question = body.message!.text;
    } else {
      const lastUser = earlier!.map((m) => m.role).lastIndexOf("user");
      if (lastUser < 0) throw new ChatError("bad_request", "app_unavailable", "There is no question to answer again in this conversation.");
      question = earlier![lastUser].text;
      history = earlier!.slice(0, lastUser);
      replaced = earlier!.slice(lastUser + 1).map((m) => m.id);
    }
    const questionInput = {
      conversationId: body.conversationId,
      appId: app.id,
      owner,
      userMessage: !regenerate ? { id: body.message!.id, text: question } : undefined,
      title: question.replace(/\s+/g, " ").slice(0, 80),
    };

    let receipt: { id: string; maxTotal: bigint } | null = null;
    let datasetVersions: AdmittedQuestion["datasetVersions"] | undefined;
    if (app.chargeSet.free) {
      await admitFreeQuestion(db, questionInput);
    } else {
      if (!body.payment) throw await missingPayment(db, chain, app.chargeSet, owner);
      const admitted = await admitPaidQuestion(db, chain, app.chargeSet, questionInput, body.payment as PaymentInput, signedIn.admission);
      receipt = { id: admitted.receiptId, maxTotal: admitted.maxTotal };
      datasetVersions = admitted.datasetVersions;
      if (paidQuestion) history = admitted.history;
    }
    // A regenerated answer replaces the previous one (its receipt stays a payment record).
    if (replaced.length) await db.chatMessage.deleteMany({ where: { id: { in: replaced }, role: "assistant" } });

    // no-transform: Next's compression middleware would otherwise gzip the token stream, costing CPU per
    // chunk and holding tokens in its buffer.
    return answerResponse(
      {
        db,
        app,
        conversationId: body.conversationId,
        question,
        history: history.map((m) => ({ role: m.role === "assistant" ? "assistant" : "user", text: m.text })),
        receipt,
        datasetVersions,
        encryptionKey: env.ENCRYPTION_KEY,
        modelFetch: modelFetch(),
        signal: request.signal,
        timeLimitMs: answerTimeLimitMs(env),
      },
      { "Cache-Control": "no-store, no-transform" },
    );
  } catch (error) {
    return chatErrorResponse(error);
  }
}
