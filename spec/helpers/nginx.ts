// A real nginx on 127.0.0.1 serving a directory as a release bucket would (static files, real
// Content-Length, ETag, ranges), over https with a test certificate, for the real-server specs.
// It runs in the foreground as the spec's child, with every path in its own temp dir, and
// its access log tells which URLs were requested.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { tempDir } from './tmp.js'
import { freePort } from './stand-in-api.js'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? 'nginx'

export interface Nginx {
  /** `https://127.0.0.1:<port>` */
  readonly origin: string
  /** The directory served at `/`. */
  readonly www: string
  /** The CA (self-signed certificate) a client must trust: pass as NODE_EXTRA_CA_CERTS. */
  readonly caFile: string
  url(p: string): string
  /** Writes `data` at `p` under www (directories made). */
  put(p: string, data: string | Buffer): void
  /** Request paths nginx logged (GET and HEAD), in order. */
  requested(): string[]
  close(): Promise<void>
}

export interface NginxOptions {
  /** Extra `location` blocks for the server (redirects, errors). */
  locations?: string
  /** Deadline for nginx to answer, ms (default 10 s). */
  startMs?: number
}

/** A self-signed certificate for 127.0.0.1 (openssl), written into `dir`. */
export function testCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' })
  return { key, cert }
}

export async function startNginx(o: NginxOptions = {}): Promise<Nginx> {
  const dir = tempDir('nginx')
  const www = path.join(dir, 'www')
  fs.mkdirSync(www, { mode: 0o755 })
  fs.mkdirSync(path.join(dir, 'tmp'))
  const { key, cert } = testCertificate(dir)
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  const log = path.join(dir, 'access.log')
  fs.writeFileSync(conf, `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  log_format paths '$request_method $uri $status';
  access_log ${log} paths;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    root ${www};
${o.locations ?? ''}
  }
}
`)
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', `${dir}/error.log`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      // Every wait has a deadline: a master that ignores TERM is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
  const deadline = Date.now() + (o.startMs ?? 10_000)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}) before serving: ${stderr}${readOr(`${dir}/error.log`)}`)
    if (await answers(port)) break
    if (Date.now() > deadline) {
      await close()
      throw new Error(`nginx did not listen on 127.0.0.1:${port} within ${o.startMs ?? 10_000} ms: ${stderr}${readOr(`${dir}/error.log`)}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const origin = `https://127.0.0.1:${port}`
  return {
    origin,
    www,
    caFile: cert,
    url: (p) => origin + p,
    put(p, data) {
      const file = path.join(www, p)
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
      fs.writeFileSync(file, data, { mode: 0o644 })
    },
    requested: () =>
      readOr(log)
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[1]!),
    close,
  }
}

const readOr = (file: string) => {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** Whether something accepts a TCP connection on the port (nginx is ready once it does). */
const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
    s.setTimeout(1000, () => {
      s.destroy()
      resolve(false)
    })
  })
