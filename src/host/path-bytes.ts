// Paths are bytes. The launcher sends them as JSON strings: valid UTF-8 as it is, and each byte
// that is not part of valid UTF-8 as the lone surrogate U+DC80..U+DCFF (PEP 383's
// surrogateescape, native/events.c). No valid UTF-8 holds a surrogate, so the mapping is
// reversible; these functions turn such a string back into the bytes the kernel saw.

import { readFileSync, readlinkSync } from 'node:fs'
import { resolve } from 'node:path'
import { CordonError } from '../errors.js'

const ESCAPED_BYTE = /[\udc80-\udcff]/
/** What Node's UTF-8 decoding puts where bytes were not UTF-8. */
const REPLACED = '\ufffd'

/** Whether the path held bytes that are not UTF-8 (it then cannot be written as text as is). */
export const hasEscapedBytes = (path: string): boolean => ESCAPED_BYTE.test(path)

/** The exact bytes of a path the launcher reported: what node's fs calls must be given. */
export function pathBytes(path: string): Buffer {
  if (!hasEscapedBytes(path)) return Buffer.from(path, 'utf8')
  const parts: Buffer[] = []
  let text = ''
  for (let i = 0; i < path.length; i++) {
    const unit = path.charCodeAt(i)
    if (unit >= 0xdc80 && unit <= 0xdcff) {
      parts.push(Buffer.from(text, 'utf8'), Buffer.from([unit - 0xdc00]))
      text = ''
    } else {
      text += path[i]
    }
  }
  parts.push(Buffer.from(text, 'utf8'))
  return Buffer.concat(parts)
}

/** What fs calls take for such a path: its bytes when it holds escaped non-UTF-8 bytes, which a
 * string would turn into U+FFFD and so name another file (a sibling anyone who can write the
 * parent directory can make). */
export const fsPath = (path: string): string | Buffer => (hasEscapedBytes(path) ? pathBytes(path) : path)

/** The launcher's string for a path's bytes (the inverse of pathBytes). */
export function pathFromBytes(bytes: Uint8Array): string {
  // Valid UTF-8 decodes as it is: Node's decoding, which puts U+FFFD only where bytes are not
  // (or where the text holds U+FFFD itself), and then the walk below says which.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  if (!text.includes(REPLACED)) return text
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const len = utf8Length(bytes, i)
    if (len === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!)
      i++
    } else {
      out += decoder.decode(bytes.subarray(i, i + len))
      i += len
    }
  }
  return out
}

/** Length of the valid UTF-8 sequence at i, or 0 (the same rules as native/events.c). */
function utf8Length(b: Uint8Array, i: number): number {
  const lead = b[i]!
  if (lead < 0x80) return 1
  const [len, min, bits] =
    lead >= 0xc2 && lead <= 0xdf
      ? [2, 0x80, lead & 0x1f]
      : lead >= 0xe0 && lead <= 0xef
        ? [3, 0x800, lead & 0x0f]
        : lead >= 0xf0 && lead <= 0xf4
          ? [4, 0x10000, lead & 0x07]
          : [0, 0, 0]
  if (len === 0 || i + len > b.length) return 0
  let cp = bits
  for (let k = 1; k < len; k++) {
    const c = b[i + k]!
    if ((c & 0xc0) !== 0x80) return 0
    cp = (cp << 6) | (c & 0x3f)
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0
  return len
}

/** This process's arguments after the script, as the kernel holds them: Node decodes argv as
 * UTF-8 and turns other bytes into U+FFFD, so they are read again from /proc/self/cmdline.
 * Falls back to Node's when the two disagree in number (argv rewritten). */
export function rawArgs(argv: readonly string[] = process.argv): string[] {
  const wanted = argv.length - 2
  // Node put U+FFFD where bytes were not UTF-8: without one there is nothing to read again, and
  // the start-up of every command skips the file.
  if (!argv.some((a) => a.includes(REPLACED))) return argv.slice(2)
  try {
    const parts = readFileSync('/proc/self/cmdline').subarray(0, -1).toString('latin1').split('\0')
    if (parts.length >= wanted + 2 && wanted >= 0)
      return parts.slice(parts.length - wanted).map((p) => pathFromBytes(Buffer.from(p, 'latin1')))
  } catch {}
  return argv.slice(2)
}

/** The raw value of an environment variable this process started with, escaped as above, when
 * it is not valid UTF-8 (process.env has replaced its bytes); undefined otherwise. */
export function rawEnvValue(name: string): string | undefined {
  if (!process.env[name]?.includes(REPLACED)) return undefined
  let environ: Buffer
  try {
    environ = readFileSync('/proc/self/environ')
  } catch {
    return undefined
  }
  const prefix = Buffer.from(`${name}=`)
  for (let at = 0; at < environ.length;) {
    let end = environ.indexOf(0, at)
    if (end < 0) end = environ.length
    const entry = environ.subarray(at, end)
    if (entry.subarray(0, prefix.length).equals(prefix)) {
      const value = pathFromBytes(entry.subarray(prefix.length))
      return hasEscapedBytes(value) ? value : undefined
    }
    at = end + 1
  }
  return undefined
}

/** A path the caller gave, made absolute from the working directory as the kernel holds it:
 * path.resolve() starts from process.cwd(), whose bytes that are not UTF-8 are U+FFFD (another
 * directory, which anyone who can write its parent can make). */
export const callerResolve = (...paths: string[]): string => resolve(callerCwd(), ...paths)

/** The working directory as the kernel holds it, escaped as above: process.cwd() replaces bytes
 * that are not UTF-8 with U+FFFD, which names another directory (or none). */
export function callerCwd(): string {
  let cwd: string
  try {
    cwd = process.cwd()
  } catch (cause) {
    // Removed under the caller (`cd d; rmdir d`): an internal error with a stack before.
    throw new CordonError(
      'invalid_usage',
      `the current directory ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no longer exists' : `cannot be read (${(cause as NodeJS.ErrnoException).code})`}; cd into one that does`,
      { cause },
    )
  }
  if (!cwd.includes(REPLACED)) return cwd
  try {
    return pathFromBytes(readlinkSync('/proc/self/cwd', { encoding: 'buffer' }))
  } catch {
    return cwd
  }
}
