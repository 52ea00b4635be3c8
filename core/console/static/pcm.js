// PCM16 at 24 kHz, the realtime protocol's audio: resampling, encoding and decoding.
export const RATE = 24000;

// Linear-interpolation resampler that keeps its phase across chunks.
export class Resampler {
  constructor(fromRate, toRate = RATE) {
    this.step = fromRate / toRate;
    this.position = 0;
    this.last = 0;
  }

  push(input) {
    const out = [];
    // position is where the next output sample lies, counted from this chunk's first sample;
    // between -1 and 0 it lies between the previous chunk's last sample and this one's first.
    for (;;) {
      const p = this.position;
      let a;
      let b;
      let frac;
      if (p < 0) {
        [a, b, frac] = [this.last, input[0], p + 1];
      } else {
        const i = Math.floor(p);
        if (i + 1 >= input.length) break;
        [a, b, frac] = [input[i], input[i + 1], p - i];
      }
      out.push(a + (b - a) * frac);
      this.position += this.step;
    }
    this.position -= input.length;
    this.last = input[input.length - 1];
    return Float32Array.from(out);
  }
}

export function toBase64Pcm16(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function fromBase64Pcm16(data) {
  const binary = atob(data);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const samples = new Float32Array(binary.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true) / 0x8000;
  return samples;
}

// Plays reply audio gaplessly and can stop at once (barge-in), saying how much was heard.
export class Player {
  constructor(context) {
    this.context = context;
    this.sources = new Set();
    this.reset();
  }

  reset() {
    this.itemId = null;
    this.next = 0;
    this.firstStart = null;
    this.scheduledMs = 0;
  }

  play(itemId, samples) {
    if (itemId !== this.itemId) {
      this.stop();
      this.itemId = itemId;
    }
    const buffer = this.context.createBuffer(1, samples.length, RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const at = Math.max(this.context.currentTime + 0.03, this.next);
    if (this.firstStart === null) this.firstStart = at;
    source.start(at);
    this.next = at + buffer.duration;
    this.scheduledMs += buffer.duration * 1000;
    this.sources.add(source);
    source.addEventListener("ended", () => this.sources.delete(source));
  }

  get playing() {
    return this.sources.size > 0;
  }

  playedMs() {
    if (this.firstStart === null) return 0;
    const heard = (this.context.currentTime - this.firstStart) * 1000;
    return Math.round(Math.max(0, Math.min(heard, this.scheduledMs)));
  }

  stop() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already ended
      }
    }
    this.sources.clear();
    this.reset();
  }
}
