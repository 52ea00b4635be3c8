// Live conversation over /v1/realtime: microphone in (pcm16 24 kHz), reply audio out, barge-in.
import { credentials, el, getJson } from "./api.js";
import { Player, RATE, Resampler, fromBase64Pcm16, toBase64Pcm16 } from "./pcm.js";

// Microphone audio is sent in pieces of this many 24 kHz samples (100 ms).
const SEND_SAMPLES = 2400;

function socketUrl(model) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/v1/realtime?model=${encodeURIComponent(model)}`;
}

async function openMicrophone(context, onSamples) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
  });
  const input = context.createMediaStreamSource(stream);
  let node;
  if (context.audioWorklet) {
    await context.audioWorklet.addModule("capture-worklet.js");
    node = new AudioWorkletNode(context, "voxgate-capture");
    node.port.onmessage = (event) => onSamples(event.data);
  } else {
    // Older engines without AudioWorklet.
    node = context.createScriptProcessor(2048, 1, 1);
    node.onaudioprocess = (event) => onSamples(event.inputBuffer.getChannelData(0).slice(0));
  }
  // Connected through a silent gain so the graph runs without playing the microphone back.
  const mute = context.createGain();
  mute.gain.value = 0;
  input.connect(node);
  node.connect(mute);
  mute.connect(context.destination);
  return () => {
    stream.getTracks().forEach((track) => track.stop());
    input.disconnect();
    node.disconnect();
  };
}

class Turns {
  constructor(table) {
    this.body = table.querySelector("tbody");
    this.rows = new Map();
    this.current = null;
  }

  start(itemId) {
    const row = el("tr", { className: "turn" },
      el("td", { className: "user" }, "…"), el("td", { className: "reply" }),
      el("td", { className: "engines" }), el("td", { className: "latency num" }));
    row.dataset.item = itemId || "";
    this.body.append(row);
    this.rows.set(itemId, row);
    this.current = row;
    return row;
  }

  forItem(itemId) {
    return this.rows.get(itemId) || this.current || this.start(itemId);
  }

  cell(name) {
    return (this.current || this.start(null)).querySelector(`.${name}`);
  }
}

export function setupLive() {
  const startButton = document.getElementById("live-start");
  const stopButton = document.getElementById("live-stop");
  const state = document.getElementById("live-state");
  const turns = new Turns(document.getElementById("live-turns"));
  let session = null;

  async function enginesSince(seen) {
    try {
      const activity = await getJson("/control/activity?limit=20");
      const fresh = activity.decisions.filter((d) => d.at > seen && d.engine);
      const latest = {};
      for (const d of fresh) if (!latest[d.capability]) latest[d.capability] = d.engine;
      return ["vad", "stt", "llm", "tts"].filter((c) => latest[c]).map((c) => `${c}: ${latest[c]}`).join(", ");
    } catch {
      return "(control plane not reachable)";
    }
  }

  function showEngines(row, since) {
    if (!row) return;
    enginesSince(since).then((text) => {
      if (text) row.querySelector(".engines").textContent = text;
    });
  }

  function stop(reason) {
    if (!session) return;
    const ending = session;
    session = null;
    ending.closeMic?.();
    ending.player?.stop();
    if (ending.socket.readyState <= WebSocket.OPEN) ending.socket.close(1000);
    ending.context.close().catch(() => {});
    startButton.disabled = false;
    stopButton.disabled = true;
    state.textContent = reason;
  }

  function handle(event, s) {
    switch (event.type) {
      case "session.created":
        state.textContent = `Connected (${event.session.model || "realtime"}); speak now.`;
        s.ready = true;
        break;
      case "input_audio_buffer.speech_started": {
        // Barge-in: stop the reply now and tell the server how much of it was heard.
        // (Between two pieces of reply audio nothing may be playing: the reply still counts.)
        if (s.player.itemId && (s.player.playing || s.replying)) {
          const heard = s.player.playedMs();
          const itemId = s.player.itemId;
          s.player.stop();
          s.send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: heard });
          if (turns.current) turns.current.classList.add("interrupted");
        }
        turns.start(event.item_id);
        s.turnSeen = s.lastDecision;
        state.textContent = "Listening…";
        break;
      }
      case "input_audio_buffer.speech_stopped":
        s.stoppedAt = performance.now();
        state.textContent = "Thinking…";
        break;
      case "conversation.item.input_audio_transcription.completed":
        turns.forItem(event.item_id).querySelector(".user").textContent = event.transcript || "(nothing heard)";
        break;
      case "response.created":
        s.firstAudio = null;
        s.replying = true;
        break;
      case "response.output_audio.delta":
        s.player.play(event.item_id, fromBase64Pcm16(event.delta));
        if (s.firstAudio === null) {
          s.firstAudio = performance.now();
          if (s.stoppedAt) turns.cell("latency").textContent = `${Math.round(s.firstAudio - s.stoppedAt)} ms`;
          showEngines(turns.current, s.turnSeen);
          state.textContent = "Answering… (speak to interrupt)";
        }
        break;
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        turns.cell("reply").textContent += event.delta;
        break;
      case "response.done": {
        s.replying = false;
        const status = event.response.status;
        const row = turns.current;
        if (row && status !== "completed") row.querySelector(".reply").append(el("em", {}, ` (${status})`));
        if (row) row.dataset.status = status;
        showEngines(row, s.turnSeen);
        getJson("/control/activity?limit=1").then((a) => {
          if (a.decisions.length) s.lastDecision = a.decisions[0].at;
        }).catch(() => {});
        state.textContent = "Listening…";
        break;
      }
      case "error":
        state.textContent = `Error: ${event.error.message}`;
        break;
      default:
        break;
    }
  }

  startButton.addEventListener("click", async () => {
    if (session) return;
    startButton.disabled = true;
    state.textContent = "Connecting…";
    const context = new AudioContext();
    const protocols = ["realtime"];
    const { apiKey } = credentials();
    if (apiKey) protocols.push(`openai-insecure-api-key.${apiKey}`);
    const model = document.getElementById("live-model").value.trim() || "gpt-realtime";
    const socket = new WebSocket(socketUrl(model), protocols);
    const s = {
      socket,
      context,
      player: new Player(context),
      ready: false,
      replying: false,
      stoppedAt: null,
      firstAudio: null,
      lastDecision: Date.now() / 1000,
      turnSeen: Date.now() / 1000,
      send: (event) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(event)),
    };
    session = s;
    // Decisions are stamped by the daemon's clock: count this session's from the daemon's now.
    getJson("/control/activity?limit=1").then((a) => {
      s.lastDecision = a.time;
      s.turnSeen = a.time;
    }).catch(() => {});
    socket.addEventListener("message", (message) => handle(JSON.parse(message.data), s));
    socket.addEventListener("close", (event) => {
      if (session === s) stop(event.code === 1000 ? "Disconnected." : `Disconnected (${event.code} ${event.reason || ""}).`);
    });
    socket.addEventListener("open", async () => {
      try {
        await context.resume();
        const resampler = new Resampler(context.sampleRate, RATE);
        let pending = [];
        let count = 0;
        s.closeMic = await openMicrophone(context, (samples) => {
          const out = resampler.push(samples);
          pending.push(out);
          count += out.length;
          if (count < SEND_SAMPLES || !s.ready) return;
          const joined = new Float32Array(count);
          let offset = 0;
          for (const part of pending) {
            joined.set(part, offset);
            offset += part.length;
          }
          pending = [];
          count = 0;
          s.send({ type: "input_audio_buffer.append", audio: toBase64Pcm16(joined) });
        });
        stopButton.disabled = false;
      } catch (error) {
        stop(`Microphone unavailable: ${error.message}`);
      }
    });
  });

  stopButton.addEventListener("click", () => stop("Stopped."));
  window.addEventListener("pagehide", () => stop("Stopped."));
}
