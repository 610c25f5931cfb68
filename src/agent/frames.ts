import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { sniffImageFormat } from '../domain/protocol.js';

const VIDEO_EXTENSIONS = new Set(['.mp4', '.mkv', '.webm', '.mov', '.avi', '.y4m', '.mjpeg']);

/**
 * Loads the frames an agent streams: every JPEG/PNG/WebP in a folder (sorted by name, recognised by
 * content, not by name), a single image, or a video cut into JPEG frames at `fps` by ffmpeg.
 */
export async function loadFrames(source: string, fps = 1): Promise<Buffer[]> {
  const info = await stat(source).catch(() => {
    throw new Error(`${source}: no such file or folder`);
  });
  if (info.isDirectory()) {
    const names = (await readdir(source)).sort();
    const frames: Buffer[] = [];
    for (const name of names) {
      const data = await readFile(join(source, name)).catch(() => undefined);
      if (data && sniffImageFormat(data)) frames.push(data);
    }
    if (!frames.length) throw new Error(`${source}: no JPEG, PNG or WebP images in this folder`);
    return frames;
  }
  if (VIDEO_EXTENSIONS.has(extname(source).toLowerCase())) return videoFrames(source, fps);
  const data = await readFile(source);
  if (!sniffImageFormat(data)) throw new Error(`${source}: not a JPEG, PNG or WebP image, nor a video (${[...VIDEO_EXTENSIONS].join(', ')})`);
  return [data];
}

async function videoFrames(video: string, fps: number): Promise<Buffer[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-frames-'));
  try {
    await new Promise<void>((resolve, reject) => {
      // ffmpeg applies the video's rotation tag itself (autorotate is on by default).
      const ff = spawn('ffmpeg', ['-loglevel', 'error', '-i', video, '-vf', `fps=${fps},scale='min(640,iw)':-2`, '-q:v', '4', join(dir, 'f%05d.jpg')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      ff.stderr.on('data', (d: Buffer) => (err += d.toString()));
      ff.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('ffmpeg is needed to stream a video: sudo apt-get install -y ffmpeg') : e));
      ff.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed on ${video}: ${err.trim()}`))));
    });
    return await loadFrames(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
