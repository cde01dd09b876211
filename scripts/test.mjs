#!/usr/bin/env node
// `npm test` after the build: runs every compiled spec file (dist/spec/*.spec.js) in its own
// uvu process, a few at a time, so the suite uses every core (issue 18: ~9 min on one at a
// time, on the 2-core machine kind). Each file's whole output is printed when it finishes,
// uvu's own `Total:` / `Passed:` summary included: .ci/run adds those lines up, so this
// script prints no such line of its own. Exits 1 when any file failed, timed out or died.
//
//   node scripts/test.mjs [REGEX]    only spec files whose name matches REGEX
//   --dir DIR                        spec files in DIR instead of dist/spec
//   TEST_JOBS=N                      files at once (default: 3 on 2 cores, cores+1 above;
//                                    most specs wait on child processes and disks, not CPU)
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const dirAt = argv.indexOf('--dir')
const SPEC_DIR = dirAt >= 0 ? path.resolve(argv.splice(dirAt, 2)[1] ?? '') : path.join(REPO, 'dist/spec')
const UVU = path.join(REPO, 'node_modules/uvu/bin.js')
/** A spec file that runs longer than this is killed and counted as failed. */
const FILE_DEADLINE_MS = 20 * 60_000

/**
 * The longest files start first, so the run does not end waiting on one long file started
 * last (measured on the 2-core machine kind; files not listed follow in name order).
 */
const LONGEST_FIRST = ['crash', 'hostile', 'delta', 'fetch', 'install', 'upgrade', 'backup-restore', 'bad-input', 'operator-experience', 'rollback']

const pattern = argv[0] ? new RegExp(argv[0]) : /\.spec\.js$/
const wanted = Number(process.env.TEST_JOBS) || (os.availableParallelism() <= 2 ? 3 : os.availableParallelism() + 1)

const rank = (f) => {
  const i = LONGEST_FIRST.indexOf(f.replace(/\.spec\.js$/, ''))
  return i < 0 ? LONGEST_FIRST.length : i
}
const files = fs
  .readdirSync(SPEC_DIR)
  .filter((f) => f.endsWith('.spec.js') && pattern.test(f))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))

if (files.length === 0) {
  process.stderr.write(`test: no spec file in ${path.relative(REPO, SPEC_DIR)} matches ${pattern}\n`)
  process.exit(1)
}
const jobs = Math.min(wanted, files.length)

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Runs one spec file; resolves with its exit status and its output (stdout and stderr, interleaved). */
function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [UVU, SPEC_DIR, `^${escape(file)}$`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => out.push(d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, FILE_DEADLINE_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ file, code, signal, timedOut, ms: Date.now() - started, output: Buffer.concat(out).toString('utf8') })
    })
  })
}

const started = Date.now()
const failedFiles = []
let next = 0
async function worker() {
  while (next < files.length) {
    const r = await runFile(files[next++])
    process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`)
    const why = r.timedOut ? `killed after ${FILE_DEADLINE_MS / 60_000} minutes` : r.code !== 0 ? `exit ${r.code ?? r.signal}` : ''
    if (why) failedFiles.push(`${r.file} (${why})`)
    process.stdout.write(`  (${r.file}: ${(r.ms / 1000).toFixed(1)} s${why ? `, FAILED: ${why}` : ''})\n\n`)
  }
}
await Promise.all(Array.from({ length: jobs }, worker))

const wall = ((Date.now() - started) / 1000).toFixed(0)
if (failedFiles.length) process.stdout.write(`spec files failed: ${failedFiles.join(', ')}\n`)
process.stdout.write(`${files.length} spec files, ${jobs} at a time, ${wall} s; ${failedFiles.length ? `${failedFiles.length} failed` : 'all passed'}\n`)
process.exitCode = failedFiles.length ? 1 : 0
