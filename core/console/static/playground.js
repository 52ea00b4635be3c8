// Playground: speak, transcribe (upload or record), chat (streamed) and documents (RAG).
import { announce, el, getJson, request, sseEvents } from "./api.js";

const MP3 = "audio/mpeg";

function options(select, entries, keep) {
  const before = keep ? select.value : null;
  select.replaceChildren(...entries.map(([value, label]) => el("option", { value }, label)));
  if (before && entries.some(([value]) => value === before)) select.value = before;
}

function modelsFor(models, capability) {
  // The route first (it falls back along the chain), then each engine (pinned, no fallback).
  const route = models.filter((m) => m.kind === "route" && m.capability === capability);
  const engines = models.filter((m) => m.kind === "engine" && m.capability === capability);
  return [
    ...route.map((m) => [m.id, `${m.id} route (${m.chain.join(" → ")})`]),
    ...engines.map((m) => [m.id, `${m.id} (${m.engine}, ${m.location}, ${m.state})`]),
  ];
}

function errorText(error) {
  return error && error.message ? error.message : String(error);
}

// -- speak ------------------------------------------------------------------------------------

async function playStreamed(response, audio) {
  // MediaSource plays MP3 while it is still arriving; the element keeps it for replay.
  const source = new MediaSource();
  audio.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const buffer = source.addSourceBuffer(MP3);
  const appended = () => new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
  const reader = response.body.getReader();
  let started = false;
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    buffer.appendBuffer(value);
    await appended();
    if (!started) {
      started = true;
      audio.play().catch(() => announce("Press play to listen."));
    }
  }
  if (source.readyState === "open") source.endOfStream();
  return bytes;
}

async function playWhole(response, audio) {
  const blob = await response.blob();
  audio.src = URL.createObjectURL(blob);
  audio.play().catch(() => announce("Press play to listen."));
  return blob.size;
}

function setupSpeak() {
  const form = document.getElementById("speak-form");
  const engine = document.getElementById("speak-engine");
  const voice = document.getElementById("speak-voice");
  const audio = document.getElementById("speak-audio");
  const info = document.getElementById("speak-info");
  let voices = [];

  function fillVoices() {
    const chosen = engine.value;
    const pinned = voices.filter((v) => v.engine === chosen);
    const list = pinned.length ? pinned : voices;
    options(voice, [["", "default voice"], ...list.map((v) => [v.id, `${v.name || v.id} (${v.engine})`])], true);
  }
  engine.addEventListener("change", fillVoices);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let streamed = Boolean(window.MediaSource && MediaSource.isTypeSupported(MP3));
    const body = {
      model: engine.value || "tts",
      input: document.getElementById("speak-text").value,
      response_format: streamed ? "mp3" : "wav",
    };
    if (voice.value) body.voice = voice.value;
    info.textContent = "Synthesizing…";
    audio.dataset.state = "loading";
    const started = performance.now();
    try {
      let response;
      try {
        response = await request("/v1/audio/speech", { method: "POST", json: body });
      } catch (error) {
        // A daemon without an MP3 encoder still speaks WAV (played once it has all arrived).
        if (!streamed || error.status !== 400 || !/encoder/.test(error.message)) throw error;
        streamed = false;
        body.response_format = "wav";
        response = await request("/v1/audio/speech", { method: "POST", json: body });
      }
      const first = Math.round(performance.now() - started);
      const served = response.headers.get("x-voxgate-engine") || "?";
      const bytes = streamed ? await playStreamed(response, audio) : await playWhole(response, audio);
      audio.dataset.state = "ready";
      audio.dataset.engine = served;
      info.textContent = `Engine ${served}, voice ${response.headers.get("x-voxgate-voice") || "default"}; first audio after ${first} ms; ${bytes} bytes${streamed ? " (streamed)" : ""}.`;
    } catch (error) {
      audio.dataset.state = "error";
      info.textContent = `Speech failed: ${errorText(error)}`;
    }
  });

  return (models, voiceList) => {
    voices = voiceList;
    options(engine, modelsFor(models, "tts"), true);
    fillVoices();
  };
}

// -- transcribe ------------------------------------------------------------------------------

function setupTranscribe() {
  const form = document.getElementById("transcribe-form");
  const file = document.getElementById("transcribe-file");
  const recordButton = document.getElementById("record");
  const info = document.getElementById("transcribe-info");
  const output = document.getElementById("transcript");
  let recorded = null;
  let recorder = null;

  recordButton.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
      recorder.addEventListener("stop", () => {
        stream.getTracks().forEach((t) => t.stop());
        recorded = new Blob(chunks, { type: recorder.mimeType });
        recorder = null;
        recordButton.textContent = "Record";
        recordButton.setAttribute("aria-pressed", "false");
        info.textContent = `Recorded ${(recorded.size / 1024).toFixed(0)} KiB; press Transcribe.`;
      });
      recorder.start();
      recordButton.textContent = "Stop recording";
      recordButton.setAttribute("aria-pressed", "true");
      info.textContent = "Recording…";
    } catch (error) {
      info.textContent = `No microphone: ${errorText(error)}`;
    }
  });
  file.addEventListener("change", () => {
    recorded = null;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const audio = recorded || file.files[0];
    if (!audio) {
      info.textContent = "Choose an audio file or record first.";
      return;
    }
    const data = new FormData();
    data.append("file", audio, audio.name || "recording.webm");
    data.append("model", "stt");
    info.textContent = "Transcribing…";
    output.textContent = "";
    const started = performance.now();
    try {
      const response = await request("/v1/audio/transcriptions", { method: "POST", body: data });
      const result = await response.json();
      output.textContent = result.text;
      info.textContent = `Engine ${response.headers.get("x-voxgate-engine") || "?"}, ${Math.round(performance.now() - started)} ms.`;
    } catch (error) {
      info.textContent = `Transcription failed: ${errorText(error)}`;
    }
  });
}

// -- chat -----------------------------------------------------------------------------------

function setupChat() {
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const model = document.getElementById("chat-model");
  const log = document.getElementById("chat-log");
  const info = document.getElementById("chat-info");
  let messages = [];

  const line = (who, text) => {
    const content = el("span", { className: "text" }, text);
    const p = el("p", { className: `message ${who}` }, el("span", { className: "who" }, `${who}:`), content);
    log.append(p);
    log.scrollTop = log.scrollHeight;
    return content;
  };

  document.getElementById("chat-clear").addEventListener("click", () => {
    messages = [];
    log.replaceChildren();
    info.textContent = "";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    messages.push({ role: "user", content: text });
    line("you", text);
    const reply = line("assistant", "");
    reply.parentElement.setAttribute("aria-busy", "true");
    const started = performance.now();
    let first = null;
    try {
      const response = await request("/v1/chat/completions", {
        method: "POST",
        json: { model: model.value || "llm", messages, stream: true },
      });
      for await (const chunk of sseEvents(response)) {
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          if (first === null) first = Math.round(performance.now() - started);
          reply.textContent += delta.content;
          log.scrollTop = log.scrollHeight;
        }
      }
      messages.push({ role: "assistant", content: reply.textContent });
      info.textContent = `Engine ${response.headers.get("x-voxgate-engine") || "?"}; first token after ${first ?? "—"} ms, done after ${Math.round(performance.now() - started)} ms.`;
    } catch (error) {
      messages.pop();
      reply.textContent = `(failed: ${errorText(error)})`;
    } finally {
      reply.parentElement.setAttribute("aria-busy", "false");
    }
  });

  return (models) => options(model, modelsFor(models, "llm"), true);
}

// -- documents --------------------------------------------------------------------------------

function setupRag() {
  const info = document.getElementById("rag-info");
  const answer = document.getElementById("rag-answer");
  const citations = document.getElementById("rag-citations");

  document.getElementById("rag-add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { text: document.getElementById("rag-text").value };
    const id = document.getElementById("rag-id").value.trim();
    if (id) body.id = id;
    info.textContent = "Adding…";
    try {
      const result = await getJson("/v1/rag/documents", { method: "POST", json: body });
      const ids = (result.data || [result]).map((d) => d.id).join(", ");
      info.textContent = `Added ${ids || "the document"}.`;
      announce("Document added.");
    } catch (error) {
      info.textContent = `Adding failed: ${errorText(error)}`;
    }
  });

  document.getElementById("rag-ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      question: document.getElementById("rag-question").value,
      generate: document.getElementById("rag-generate").checked,
      top_k: 3,
    };
    info.textContent = "Searching…";
    answer.textContent = "";
    citations.replaceChildren();
    try {
      const result = await getJson("/v1/rag/query", { method: "POST", json: body });
      answer.textContent = result.answer || "";
      citations.replaceChildren(...result.data.map((c) => el("li", { className: "citation" },
        el("span", { className: "source" }, `[${c.index}] ${c.title || c.document_id} · chunk ${c.chunk_index} · score ${c.score.toFixed(3)}`),
        el("br"), c.text)));
      info.textContent = `${result.data.length} citation(s)${result.llm_engine ? `; answered by ${result.llm_engine}` : ""}.`;
    } catch (error) {
      info.textContent = `Query failed: ${errorText(error)}`;
    }
  });
}

export function setupPlayground() {
  const speak = setupSpeak();
  setupTranscribe();
  const chat = setupChat();
  setupRag();
  return {
    async refresh() {
      try {
        const [models, voices] = await Promise.all([getJson("/v1/models"), getJson("/v1/voices")]);
        speak(models.data, voices.data);
        chat(models.data);
      } catch (error) {
        announce(`Playground unavailable: ${errorText(error)}`);
      }
    },
  };
}
