import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Webcam frames are plain JPEGs: decoding them with mozjpeg compiled to wasm runs on the worker's own thread
 * (1.8–1.9 ms for 640x480 here) where sharp hands the work to a libuv thread and the worker sleeps until it is
 * done (2.1–2.7 ms, plus ~3–5 ms more on the detector call after that sleep: measured in docs/models.md,
 * "Decoding"). Anything that needs more than decoding — EXIF orientation, an ICC profile, CMYK, arithmetic or
 * lossless coding, a truncated file, a size above maxSide — is left to sharp.
 */

/** Width and height of a JPEG that the wasm decoder can take as it is; undefined when sharp must. */
export function plainJpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const n = bytes.length;
  // A truncated frame lacks its end marker: sharp reports it as corrupt.
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[n - 2] !== 0xff || bytes[n - 1] !== 0xd9) return undefined;
  let size: { width: number; height: number } | undefined;
  let i = 2;
  while (i + 4 <= n) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xda) return size; // start of scan: the header is over
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    const body = i + 4;
    if (length < 2 || body + length - 2 > n) return undefined;
    const tag = (text: string) => Buffer.from(bytes.buffer, bytes.byteOffset + body, Math.min(text.length, length - 2)).toString('latin1') === text;
    // EXIF (orientation) and ICC profiles (colour management) are sharp's job.
    if ((marker === 0xe1 && tag('Exif\0')) || (marker === 0xe2 && tag('ICC_PROFILE\0'))) return undefined;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // Huffman-coded baseline, extended or progressive, 8 bits, grey or YCbCr only.
      const components = bytes[body + 5];
      if (marker > 0xc2 || bytes[body] !== 8 || (components !== 1 && components !== 3)) return undefined;
      size = { width: (bytes[body + 3]! << 8) | bytes[body + 4]!, height: (bytes[body + 1]! << 8) | bytes[body + 2]! };
      if (size.width === 0 || size.height === 0) return undefined;
    }
    i = body + length - 2;
  }
  return undefined;
}

interface WasmDecoder {
  decode(data: Uint8Array, preserveOrientation: boolean): { data: Uint8ClampedArray; width: number; height: number } | null;
}

let decoder: Promise<WasmDecoder> | undefined;

/** The decoder's wasm file inside the installed package folder (the model loader checks it at start-up). */
export function jpegDecoderFile(packageDir = dirname(createRequire(import.meta.url).resolve('@jsquash/jpeg/package.json'))): string {
  return join(packageDir, 'codec', 'dec', 'mozjpeg_dec.wasm');
}

/**
 * The mozjpeg decoder of @jsquash/jpeg, compiled once per thread from the installed file (never fetched).
 * The model loader calls it at start-up, so the first frame does not pay the ~45 ms compile.
 */
export function loadJpegDecoder(): Promise<WasmDecoder> {
  decoder ??= (async () => {
    const wasm = await WebAssembly.compile(readFileSync(jpegDecoderFile()));
    const factory = (await import('@jsquash/jpeg/codec/dec/mozjpeg_dec.js')).default as unknown as (options: object) => Promise<WasmDecoder>;
    return factory({
      noInitialRun: true,
      instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => {
        const instance = new WebAssembly.Instance(wasm, imports);
        done(instance);
        return instance.exports;
      },
    });
  })();
  return decoder;
}

/**
 * RGBA pixels (alpha unused) of a plain JPEG no larger than maxSide on either side, as the decoder returns them
 * (its own copy out of the wasm heap); undefined when sharp must decode it.
 */
export async function decodePlainJpeg(bytes: Buffer, maxSide: number): Promise<{ data: Uint8ClampedArray; width: number; height: number } | undefined> {
  const size = plainJpegSize(bytes);
  if (!size || size.width > maxSide || size.height > maxSide) return undefined;
  let rgba;
  try {
    rgba = (await loadJpegDecoder()).decode(bytes, true);
  } catch {
    return undefined;
  }
  if (!rgba || rgba.width !== size.width || rgba.height !== size.height) return undefined;
  return { data: rgba.data, ...size };
}
