// Hands the microphone's samples to the page, one render quantum (128 frames) at a time.
class VoxgateCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}

registerProcessor("voxgate-capture", VoxgateCapture);
