import { crc32, deflateSync } from 'node:zlib';
import type { Pixels } from './picture.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body, crc32(type)) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * A truecolour PNG (8 bits per channel, alpha dropped): the careless mode's
 * hero, as an app would serve a designer's export. Scanlines use the Sub
 * filter, as a real encoder would for a photograph.
 */
export function encodePng(pixels: Pixels): Buffer {
  const { width, height, data } = pixels;
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    raw[row] = 1; // Sub: each byte minus the same channel of the pixel to its left
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const value = data[(y * width + x) * 4 + c]!;
        const left = x > 0 ? data[(y * width + x - 1) * 4 + c]! : 0;
        raw[row + 1 + x * 3 + c] = (value - left) & 0xff;
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
