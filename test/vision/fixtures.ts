import type { AnalysisResult, FrameAnalysis } from '../../src/vision/analyzer.js';

/** A successful analysis of a well-lit 640x480 frame with one face, for tests that need no models. */
export function fakeAnalysis(over: Partial<FrameAnalysis> = {}): AnalysisResult {
  return {
    ok: true,
    analysis: {
      width: 640,
      height: 480,
      format: 'jpeg',
      quality: { brightness: 120, sharpness: 300, tooDark: false, tooBright: false, blurred: false },
      faces: [{ box: [100, 100, 120, 140], score: 0.9, eyeOpen: 0.3, yaw: 0 }],
      ran: { identity: false, spoof: false, phones: false },
      timings: { decode: 0, quality: 0, detect: 0, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: 0, model: 0 },
      ...over,
    },
  };
}
