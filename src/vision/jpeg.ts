import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Webcam frames are plain JPEGs: libjpeg-turbo compiled to wasm decodes them on the worker's own thread
 * (~1.9 ms for 640x480 here) where sharp hands the work to a libuv thread and the worker sleeps until it is
 * done (2.1–2.7 ms, plus ~3–5 ms more on the detector call after that sleep: measured in docs/models.md,
 * "Decoding"). A frame that only needs the detector's half-size input is decoded at that size directly
 * (libjpeg's DCT scaling, 1/2, 1/4 or 1/8: ~0.85 ms for 640x480 -> 320x240, and no box average after it).
 * Anything that needs more than decoding — EXIF orientation, an ICC profile, CMYK, arithmetic or lossless
 * coding, a truncated file, a size above maxSide — is left to sharp.
 *
 * The wasm build is @cwasm/jpeg-turbo's (libjpeg-turbo's TurboJPEG API, nothing else exported); it is called
 * here through that API rather than the package's `decode()`, which decodes at full size only, to RGBA, and
 * copies its input and output through fresh buffers on every call.
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

/** The TurboJPEG functions the wasm build exports (pointers are offsets into its memory). */
interface TurboJpegExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  tjInitDecompress(): number;
  tjDecompressHeader3(handle: number, jpeg: number, size: number, width: number, height: number, subsampling: number, colorspace: number): number;
  tjDecompress2(handle: number, jpeg: number, size: number, out: number, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
}

const TJPF_RGB = 0;
/** The DCT scalings a frame is decoded at besides full size (libjpeg-turbo has 1/8 steps; these are exact box sizes). */
const DECODE_SCALES: readonly number[] = [2, 4, 8];

/** The decoder's wasm file inside the installed package folder (the model loader checks it at start-up). */
export function jpegDecoderFile(packageDir = dirname(createRequire(import.meta.url).resolve('@cwasm/jpeg-turbo/package.json'))): string {
  return join(packageDir, 'jpeg-turbo.wasm');
}

let compiled: WebAssembly.Module | undefined;

/** The wasm module, compiled once per thread from the installed file (never fetched); the model loader calls it at start-up. */
export function loadJpegDecoder(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(jpegDecoderFile()));
  return compiled;
}

/**
 * One decoder instance with its input and output buffers, reused from frame to frame. libjpeg reports a fatal
 * error by longjmp, which this build cannot do (its stub throws): an instance that threw is dropped and the
 * next frame gets a new one.
 */
class TurboJpeg {
  private readonly tj: TurboJpegExports;
  private readonly handle: number;
  private readonly header: number;
  private input = { ptr: 0, size: 0 };
  private output = { ptr: 0, size: 0 };

  constructor(module: WebAssembly.Module) {
    const unsupported = (name: string) => () => {
      throw new Error(`jpeg-turbo wasm: ${name} is not available`);
    };
    const instance = new WebAssembly.Instance(module, {
      env: { setjmp: () => 0, longjmp: unsupported('longjmp') },
      wasi_snapshot_preview1: { environ_sizes_get: () => 0, environ_get: unsupported('environ_get'), proc_exit: unsupported('proc_exit'), fd_close: unsupported('fd_close'), fd_seek: unsupported('fd_seek'), fd_write: unsupported('fd_write') },
    });
    this.tj = instance.exports as unknown as TurboJpegExports;
    this.handle = this.tj.tjInitDecompress();
    this.header = this.tj.malloc(16);
    if (!this.handle || !this.header) throw new Error('jpeg-turbo wasm: cannot allocate a decompressor');
  }

  private buffer(which: 'input' | 'output', size: number): number {
    const b = this[which];
    if (b.size < size) {
      if (b.ptr) this.tj.free(b.ptr);
      b.ptr = this.tj.malloc(size);
      b.size = b.ptr ? size : 0;
      if (!b.ptr) throw new Error('jpeg-turbo wasm: out of memory');
    }
    return b.ptr;
  }

  /** RGB pixels of the JPEG scaled by 1/scale (ceil of each side), or undefined when libjpeg refuses it. */
  decode(bytes: Uint8Array, scale: number): { data: Buffer; width: number; height: number } | undefined {
    const { tj } = this;
    const input = this.buffer('input', bytes.length);
    new Uint8Array(tj.memory.buffer, input, bytes.length).set(bytes);
    const h = this.header;
    if (tj.tjDecompressHeader3(this.handle, input, bytes.length, h, h + 4, h + 8, h + 12) !== 0) return undefined;
    const [fullWidth, fullHeight] = new Uint32Array(tj.memory.buffer, h, 2) as unknown as [number, number];
    // TurboJPEG picks the largest scaling that fits the size asked for: 1/scale exactly, for 2, 4 and 8.
    const width = Math.ceil(fullWidth / scale);
    const height = Math.ceil(fullHeight / scale);
    const size = width * height * 3;
    const output = this.buffer('output', size);
    if (tj.tjDecompress2(this.handle, input, bytes.length, output, width, width * 3, height, TJPF_RGB, 0) !== 0) return undefined;
    // Views are made after every malloc: a grown wasm memory detaches the old ones.
    return { data: Buffer.from(new Uint8Array(tj.memory.buffer, output, size)), width, height };
  }
}

let turbo: TurboJpeg | undefined;

/**
 * RGB pixels of a plain JPEG no larger than maxSide on either side, at full size or scaled by 1/scale (one of
 * DECODE_SCALES); undefined when sharp must decode it.
 */
export function decodePlainJpeg(bytes: Buffer, maxSide: number, scale = 1): { data: Buffer; width: number; height: number } | undefined {
  if (scale !== 1 && !DECODE_SCALES.includes(scale)) return undefined;
  const size = plainJpegSize(bytes);
  if (!size || size.width > maxSide || size.height > maxSide) return undefined;
  try {
    turbo ??= new TurboJpeg(loadJpegDecoder());
    const out = turbo.decode(bytes, scale);
    if (!out || out.width !== Math.ceil(size.width / scale) || out.height !== Math.ceil(size.height / scale)) return undefined;
    return out;
  } catch {
    turbo = undefined;
    return undefined;
  }
}
